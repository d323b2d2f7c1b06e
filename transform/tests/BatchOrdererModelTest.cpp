// BatchOrderer against a model: random batches of writes are applied to an in-memory model
// of the target, once in source order and once in the orderer's order; the final states
// must be equal, and the orderer's order must satisfy the target's foreign keys at every
// write, as the target checks them (a child needs its parent, a parent with children cannot
// go; a deferred key at its segment's end), for every batch whose end state satisfies them
// (what a source with deferred constraints accepted). Many of those batches break a key in
// source order, so an orderer that changed nothing would fail here. Plus the grouping that
// makes the order worth having: partial writes of many source rows come out as long runs of
// one plan and op.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "transform/BatchOrderer.h"
#include "transform/tests/BatchOrdererTestSupport.h"

namespace pgmorph::ordertest {
namespace {

using Strings = std::vector<std::string>;
using Row = std::map<std::string, std::optional<std::string>>;

// Tables keyed by "schema.table", rows by id; ops exactly as WritePlan.h defines them. A
// set-columns of a missing row does nothing here (the sink refuses it; both orders must agree).
class Model {
 public:
  void apply(const TargetWrite& w) {
    const WritePlan& p = *w.plan;
    auto& table = tables_[p.targetTable];
    auto values = w.values();
    switch (w.op) {
      case WriteOp::Upsert: {
        Row& r = table[w.row];
        for (std::size_t i = 0; i < p.columns.size(); ++i) set(r, p.columns[i], w, values[i]);
        break;
      }
      case WriteOp::Delete:
        table.erase(w.row);
        break;
      case WriteOp::SetColumns:
        if (auto it = table.find(w.row); it != table.end())
          for (std::size_t i = 0; i < p.columns.size(); ++i)
            set(it->second, p.columns[i], w, values[i]);
        break;
      case WriteOp::Release:
        for (auto& [id, r] : table) {
          if (w.hasRow && id == w.row) continue;
          bool owned = true;
          for (std::size_t i = 0; i < p.ownerColumns.size(); ++i)
            owned = owned && values[i].state == ValueState::Present &&
                    r[p.ownerColumns[i]] == std::string(w.text(values[i]));
          if (owned)
            for (const auto& c : p.columns) r[c] = std::nullopt;
        }
        break;
      case WriteOp::Truncate:
        table.clear();
        break;
    }
  }
  // The first foreign key of `keys` that the model breaks, "" when none: a non-NULL reference
  // to a row its parent table does not have. Every key here references its parent's id.
  std::string broken(const std::vector<ForeignKey>& keys,
                     const std::vector<const ForeignKey*>& skip = {}) const {
    for (const ForeignKey& fk : keys) {
      if (std::find(skip.begin(), skip.end(), &fk) != skip.end()) continue;
      auto child = tables_.find(table(fk.child));
      if (child == tables_.end()) continue;
      auto parent = tables_.find(table(fk.parent));
      for (const auto& [id, r] : child->second) {
        auto v = r.find(fk.childColumns[0]);
        if (v == r.end() || !v->second) continue;
        Uuid ref = Uuid::parse(*v->second);
        if (parent == tables_.end() || !parent->second.count(ref))
          return fmt::format("{} ({} {} names {} {})", fk.name, fk.child, id.str().substr(24),
                             fk.parent, ref.str().substr(24));
      }
    }
    return "";
  }
  bool operator==(const Model&) const = default;
  std::string dump() const {
    std::string out;
    for (const auto& [t, rows] : tables_)
      for (const auto& [id, r] : rows) {
        out += t + " " + id.str().substr(24) + ":";
        for (const auto& [c, v] : r) out += " " + c + "=" + v.value_or("~").substr(0, 36);
        out += "\n";
      }
    return out;
  }

 private:
  static std::string table(const std::string& qualified) {
    return qualified.substr(qualified.find('.') + 1);
  }
  static void set(Row& r, const std::string& c, const TargetWrite& w, const WriteValue& v) {
    if (v.state == ValueState::Present) r[c] = std::string(w.text(v));
    if (v.state == ValueState::Null) r[c] = std::nullopt;
  }
  std::map<std::string, std::map<Uuid, Row>> tables_;
};

// Random batches over the jaws (two partial plans and the owning upsert plan), orders and
// payments: few rows and owners, so that collisions (same row, same owner) are frequent.
TEST(BatchOrdererModel, RandomBatchesEndInTheSameStateAsSourceOrder) {
  Schema s;
  BatchOrderer orderer(*s.graph);
  std::mt19937 rng(20240521);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  int validRounds = 0, reorderedRounds = 0;
  for (int round = 0; round < 5000; ++round) {
    Writes w;
    // The batch starts from rows that exist: jaws 40..43, orders 20..22 (as earlier batches
    // would have left them).
    Model before;
    {
      Writes seed;
      seed.upsert(*s.offices, 10, {"HQ"});
      for (int j = 40; j < 44; ++j) seed.upsert(*s.jaws, j, {"seed.stl"});
      for (int o = 20; o < 23; ++o) seed.upsert(*s.orders, o, {rowText(10), "draft", "n"});
      for (const auto& x : seed.list) before.apply(x);
    }
    int length = 2 + pick(14);
    // A deleted jaw is not written again in the batch, apart from releases (predicates): a
    // set-columns of a missing row is refused at the source's position but lands after a
    // re-insert that the orderer moved ahead of it (where parking would take it anyway).
    // Likewise a deleted order is not written or named again: deleting a parent and writing it
    // again needs the delete done first (a segment ends there), and rows naming it in between
    // would hold the delete up on any target.
    std::set<int> deadJaws, deadOrders, newOrders;
    bool pinned = false;  // a payment names a new order: payments are not deleted any more
    for (int i = 0; i < length; ++i) {
      const WritePlan& partial = pick(2) ? *s.upperJaws : *s.lowerJaws;
      const std::string type = &partial == s.upperJaws ? "upper" : "lower";
      // Orders 23 and 24 do not exist before the batch: a payment naming one before the
      // batch writes it breaks a key in source order. Only seeded orders are deleted. (The jaws'
      // partial writes name existing orders: a set naming a missing order and then released breaks
      // the key for a moment in any order.)
      int jaw = 40 + pick(4), order = 20 + pick(3), anyOrder = 20 + pick(5);
      bool dead = deadJaws.count(jaw) > 0;
      if (deadOrders.count(order) || deadOrders.count(anyOrder)) continue;
      switch (pick(12)) {
        case 0:
        case 1:
          w.release(partial, order, pick(4) ? std::optional<int>(40 + pick(4)) : std::nullopt);
          break;
        case 2:
        case 3:
        case 4:
          if (!dead) w.set(partial, jaw, {rowText(order), type});
          break;
        case 5:
          if (!dead) w.upsert(*s.jaws, jaw, {"s" + std::to_string(i) + ".stl"});
          break;
        case 6:
          w.upsert(*s.orders, anyOrder, {rowText(10), "st" + std::to_string(i), "n"});
          break;
        case 7:
          w.upsert(*s.payments, 30 + pick(3), {rowText(anyOrder), std::to_string(i)});
          if (anyOrder > 22) {
            newOrders.insert(anyOrder);
            // Not deleted again: the orderer keeps an upsert that its delete cancels (rows in
            // between may name it), and one naming a parent that comes later is the sink's
            // to drop or park.
            pinned = true;
          }
          break;
        case 8:
          if (pick(2)) {
            if (!pinned) w.remove(*s.payments, 30 + pick(3));
          } else if (!dead)
            w.upsert(*s.jaws, jaw, {"-"});
          break;
        case 9:
          w.remove(*s.jaws, jaw);
          deadJaws.insert(jaw);
          break;
        case 10:
          w.remove(*s.orders, order);
          deadOrders.insert(order);
          break;
        case 11:
          if (pick(4) == 0) {
            if (!pinned) w.truncate(*s.payments);
          } else if (!dead) {
            w.set(partial, jaw, {"~", type});
          }
          break;
      }
    }
    // A new order that a payment names is written by the batch (maybe after the payment); a
    // row that names a parent which never exists is the sink's to park, not the orderer's.
    for (int o : newOrders) w.upsert(*s.orders, o, {rowText(10), "new", "n"});
    const auto& b = orderer.order(w.list);
    // Segments are barriers (a truncate, a row written again after its delete): the orderer
    // can only keep the keys where the source's state satisfies them at each segment's end
    // (what a source with deferred constraints accepted, one piece after the other). Other
    // batches would have rows parked on any target; they are still compared, not checked.
    std::set<std::size_t> boundaries;
    for (const auto& seg : b.segments) {
      std::size_t last = 0;
      for (std::size_t k = seg.begin; k < seg.end; ++k) last = std::max(last, b.writes[k].source);
      boundaries.insert(last);
    }
    Model inSource = before, ordered = before;
    std::string brokenInSource;
    bool valid = true;
    for (std::size_t i = 0; i < w.list.size(); ++i) {
      inSource.apply(w.list[i]);
      if (brokenInSource.empty()) brokenInSource = inSource.broken(s.fks);
      if (boundaries.count(i) && !inSource.broken(s.fks).empty()) valid = false;
    }
    valid = valid && inSource.broken(s.fks).empty();
    if (valid) {
      ++validRounds;
      if (!brokenInSource.empty()) ++reorderedRounds;
    }
    std::string brokenOrdered;
    for (const auto& seg : b.segments) {
      for (std::size_t k = seg.begin; k < seg.end; ++k) {
        ordered.apply(*b.writes[k].write);
        if (valid && brokenOrdered.empty()) brokenOrdered = ordered.broken(s.fks, seg.deferred);
      }
      if (valid && brokenOrdered.empty()) brokenOrdered = ordered.broken(s.fks);
    }
    if (!(inSource == ordered) || !brokenOrdered.empty()) {
      std::string writes;
      for (const auto& x : w.list) writes += "  " + render(x) + "\n";
      std::string order;
      for (const auto& x : render(b)) order += "  " + x + "\n";
      FAIL() << "round " << round << (brokenOrdered.empty() ? "" : ": the order breaks ")
             << brokenOrdered << "\nsource order:\n"
             << writes << "ordered:\n"
             << order << "expected:\n"
             << inSource.dump() << "got:\n"
             << ordered.dump();
    }
  }
  // The keys were checked on most rounds, and on many of them the source's order broke one
  // along the way: an orderer that kept source order would have failed those.
  EXPECT_GT(validRounds, 2500);
  EXPECT_GT(reorderedRounds, 250);
  std::cerr << validRounds << " rounds checked against the keys, " << reorderedRounds
            << " of them break a key in source order\n";
}

TEST(BatchOrdererModel, PartialWritesOfManySourceRowsComeOutAsOneRunPerPlanAndOp) {
  Schema s;
  BatchOrderer orderer(*s.graph);
  Writes w;
  // Three new orders, each naming two new jaws, as the transformer writes them.
  for (int o = 20; o < 23; ++o) {
    int upper = 2 * o, lower = 2 * o + 1;
    w.upsert(*s.jaws, upper, {"u.stl"})
        .upsert(*s.jaws, lower, {"l.stl"})
        .upsert(*s.orders, o, {rowText(10), "draft", "n"})
        .release(*s.upperJaws, o, upper)
        .release(*s.lowerJaws, o, lower)
        .set(*s.upperJaws, upper, {rowText(o), "upper"})
        .set(*s.lowerJaws, lower, {rowText(o), "lower"});
  }
  EXPECT_EQ(render(orderer.order(w.list)),
            (Strings{"upsert orders 20",
                     "upsert orders 21",
                     "upsert orders 22",
                     "upsert jaws 40",
                     "upsert jaws 41",
                     "upsert jaws 42",
                     "upsert jaws 43",
                     "upsert jaws 44",
                     "upsert jaws 45",
                     "release jaws #20 upper keep 40",
                     "release jaws #21 upper keep 42",
                     "release jaws #22 upper keep 44",
                     "release jaws #20 lower keep 41",
                     "release jaws #21 lower keep 43",
                     "release jaws #22 lower keep 45",
                     "set-columns jaws 40 [order_id=#20, jaw_type=upper]",
                     "set-columns jaws 42 [order_id=#21, jaw_type=upper]",
                     "set-columns jaws 44 [order_id=#22, jaw_type=upper]",
                     "set-columns jaws 41 [order_id=#20, jaw_type=lower]",
                     "set-columns jaws 43 [order_id=#21, jaw_type=lower]",
                     "set-columns jaws 45 [order_id=#22, jaw_type=lower]"}));
}

TEST(BatchOrdererModel, AReleaseThatClearsAnEarlierSetStaysAfterIt) {
  Schema s;
  BatchOrderer orderer(*s.graph);
  Writes w;
  // Order 20 names jaw 40 as its upper jaw, then jaw 41 instead (releasing 40); order 21's
  // writes in between are free to move.
  w.set(*s.upperJaws, 40, {rowText(20), "upper"})
      .release(*s.upperJaws, 21, 50)
      .set(*s.upperJaws, 50, {rowText(21), "upper"})
      .release(*s.upperJaws, 20, 41)
      .set(*s.upperJaws, 41, {rowText(20), "upper"})
      .release(*s.upperJaws, 22, 52);
  EXPECT_EQ(render(orderer.order(w.list)),
            (Strings{"release jaws #21 upper keep 50", "release jaws #22 upper keep 52",
                     "set-columns jaws 40 [order_id=#20, jaw_type=upper]",
                     "set-columns jaws 50 [order_id=#21, jaw_type=upper]",
                     "release jaws #20 upper keep 41",
                     "set-columns jaws 41 [order_id=#20, jaw_type=upper]"}));
}

}  // namespace
}  // namespace pgmorph::ordertest
