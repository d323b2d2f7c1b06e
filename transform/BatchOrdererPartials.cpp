// BatchOrderer: the partial writes (SetColumns, Release) of one table in a segment, emitted in
// waves of writes that commute (see emitPartials and BatchOrderer.h).
#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "transform/BatchOrderer.h"
#include "transform/BatchOrdererState.h"

namespace pgmorph {

namespace {

// The owner values a partial write is about, as one key: for a Release, the values its
// predicate matches; for a SetColumns, the owner columns' values it writes (so that a Release
// with the same key would match the row it fills). False when a SetColumns leaves one of them
// unwritten: what the row then holds is not known here.
bool ownerKey(const TargetWrite& w, const std::vector<std::string>& owners, std::string& key) {
  key.clear();
  auto values = w.values();
  const WritePlan& plan = *w.plan;
  for (std::size_t k = 0; k < owners.size(); ++k) {
    const WriteValue* v = nullptr;
    if (w.op == WriteOp::Release) {
      if (k < values.size()) v = &values[k];
    } else {
      auto c = std::find(plan.columns.begin(), plan.columns.end(), owners[k]);
      std::size_t i = static_cast<std::size_t>(c - plan.columns.begin());
      if (c != plan.columns.end() && i < values.size()) v = &values[i];
    }
    if (!v || v->state == ValueState::Absent) return false;
    // Length-prefixed, so that no two different value lists make the same key.
    std::string_view text = v->state == ValueState::Null ? std::string_view() : w.text(*v);
    key += std::to_string(v->state == ValueState::Null ? -1 : static_cast<long>(text.size()));
    key += ':';
    key += text;
  }
  return true;
}

}  // namespace

void BatchOrderer::emitPartials(Table& t) {
  const auto& list = t.partials;
  if (list.size() < 2) {
    for (int e : list) emitEntry(e);
    return;
  }
  // Waves: partial writes that commute are written together, so that each plan's releases and
  // set-columns of one wave become one multi-row statement each, instead of alternating one
  // by one as the transformer emits them (release, release, set, set per source row). Two
  // partial writes do not commute when
  //  - both set the same row (the later one wins), or
  //  - a set-columns fills a row with the owner values that a later release matches, and that
  //    release does not keep that row (the release would clear what the set wrote).
  // A later write goes in a later wave than an earlier one it does not commute with. A
  // release followed by a set-columns it would affect may share a wave: inside a wave,
  // releases run first. Releases always commute with each other.
  // The owner key needs one owner-column layout for the table; with several, every release
  // waits for every earlier set-columns (still correct, only fewer rows per statement).
  const std::vector<std::string>& owners = entries_[list[0]].plan->ownerColumns;
  bool oneLayout = true;
  for (const WritePlan* p : t.partialPlans) oneLayout = oneLayout && p->ownerColumns == owners;

  struct SetsOfKey {
    int releaseWave = -1;                    // highest wave of a release with this key
    std::vector<std::pair<Uuid, int>> sets;  // rows set with this key, and their waves
  };
  std::unordered_map<std::string, SetsOfKey> byKey;
  std::unordered_map<Uuid, int, UuidHash> setWave;  // row -> wave of its last set-columns
  int maxRelease = -1, maxSet = -1, maxUnknownSet = -1, waves = 0;
  std::vector<int> wave(list.size(), 0);
  std::string key;
  for (std::size_t j = 0; j < list.size(); ++j) {
    const Entry& e = entries_[list[j]];
    const TargetWrite& w = *e.write;
    bool known = oneLayout && ownerKey(w, owners, key);
    int at = 0;
    if (e.op == WriteOp::Release) {
      if (!known) {
        at = maxSet + 1;
      } else {
        at = maxUnknownSet + 1;
        if (auto it = byKey.find(key); it != byKey.end())
          for (const auto& [row, setAt] : it->second.sets)
            if (!w.hasRow || row != w.row) at = std::max(at, setAt + 1);
        auto& k = byKey[key];
        k.releaseWave = std::max(k.releaseWave, at);
      }
      maxRelease = std::max(maxRelease, at);
    } else {
      if (auto it = setWave.find(e.row); it != setWave.end()) at = it->second + 1;
      if (!known) {
        at = std::max(at, maxRelease);
        maxUnknownSet = std::max(maxUnknownSet, at);
      } else {
        auto& k = byKey[key];
        at = std::max(at, k.releaseWave);
        k.sets.emplace_back(e.row, at);
      }
      setWave[e.row] = at;
      maxSet = std::max(maxSet, at);
    }
    wave[j] = at;
    waves = std::max(waves, at + 1);
  }
  // Per wave: releases, then set-columns; each grouped by plan (in order of first
  // appearance), source order inside a plan.
  for (int v = 0; v < waves; ++v)
    for (WriteOp op : {WriteOp::Release, WriteOp::SetColumns})
      for (const WritePlan* plan : t.partialPlans)
        for (std::size_t j = 0; j < list.size(); ++j) {
          const Entry& e = entries_[list[j]];
          if (wave[j] == v && e.op == op && e.plan == plan) emitEntry(list[j]);
        }
}

}  // namespace pgmorph
