#include "transform/FkGraph.h"

#include <algorithm>
#include <functional>
#include <set>

namespace pgmorph {

FkAction fkActionFromCatalog(char confdeltype) {
  switch (confdeltype) {
    case 'r':
      return FkAction::Restrict;
    case 'c':
      return FkAction::Cascade;
    case 'n':
      return FkAction::SetNull;
    case 'd':
      return FkAction::SetDefault;
    default:
      return FkAction::NoAction;
  }
}

FkGraph::FkGraph(std::vector<std::string> tables, std::vector<ForeignKey> foreignKeys)
    : tables_(std::move(tables)), fks_(std::move(foreignKeys)) {
  std::sort(tables_.begin(), tables_.end());
  tables_.erase(std::unique(tables_.begin(), tables_.end()), tables_.end());
  const int n = static_cast<int>(tables_.size());
  std::unordered_map<std::string, int> index;
  for (int i = 0; i < n; ++i) index[tables_[i]] = i;

  // Edges parent -> child among known tables; self-references set aside.
  std::vector<std::vector<int>> children(n);
  for (const auto& fk : fks_) {
    auto c = index.find(fk.child), p = index.find(fk.parent);
    if (c == index.end() || p == index.end()) continue;
    if (c->second == p->second) {
      selfRefs_.push_back(fk);
      continue;
    }
    children[p->second].push_back(c->second);
  }

  // Tarjan's strongly connected components: each SCC of more than one table is a cycle.
  std::vector<int> order(n, -1), low(n, 0), component(n, -1);
  std::vector<bool> onStack(n, false);
  std::vector<int> stack;
  int counter = 0, components = 0;
  std::function<void(int)> visit = [&](int v) {
    order[v] = low[v] = counter++;
    stack.push_back(v);
    onStack[v] = true;
    for (int w : children[v]) {
      if (order[w] < 0) {
        visit(w);
        low[v] = std::min(low[v], low[w]);
      } else if (onStack[w]) {
        low[v] = std::min(low[v], order[w]);
      }
    }
    if (low[v] == order[v]) {
      for (;;) {
        int w = stack.back();
        stack.pop_back();
        onStack[w] = false;
        component[w] = components;
        if (w == v) break;
      }
      ++components;
    }
  };
  for (int v = 0; v < n; ++v)
    if (order[v] < 0) visit(v);

  // Level of a component = 1 + max level of its parent components (longest path).
  std::vector<std::set<int>> parentComps(components);
  for (int p = 0; p < n; ++p)
    for (int c : children[p])
      if (component[p] != component[c]) parentComps[component[c]].insert(component[p]);
  std::vector<int> level(components, -1);
  std::function<int(int)> levelOf = [&](int comp) {
    if (level[comp] >= 0) return level[comp];
    int l = 0;
    for (int pc : parentComps[comp]) l = std::max(l, levelOf(pc) + 1);
    return level[comp] = l;
  };
  int maxLevel = -1;
  for (int c = 0; c < components; ++c) maxLevel = std::max(maxLevel, levelOf(c));
  levels_.assign(maxLevel + 1, {});
  for (int v = 0; v < n; ++v) levels_[level[component[v]]].push_back(tables_[v]);
  for (auto& l : levels_) std::sort(l.begin(), l.end());

  // Rank: parent-first position; members of one component share it.
  std::vector<int> compRank(components, 0);
  {
    std::vector<int> comps(components);
    for (int c = 0; c < components; ++c) comps[c] = c;
    std::stable_sort(comps.begin(), comps.end(), [&](int a, int b) { return level[a] < level[b]; });
    for (int i = 0; i < components; ++i) compRank[comps[i]] = i;
  }
  for (int v = 0; v < n; ++v) rank_[tables_[v]] = compRank[component[v]];

  // Cycles with their constraints.
  std::vector<std::vector<int>> members(components);
  for (int v = 0; v < n; ++v) members[component[v]].push_back(v);
  for (int c = 0; c < components; ++c) {
    if (members[c].size() < 2) continue;
    FkCycle cycle;
    cycle.allDeferrable = true;
    for (int v : members[c]) cycle.tables.push_back(tables_[v]);
    for (const auto& fk : fks_) {
      auto ci = index.find(fk.child), pi = index.find(fk.parent);
      if (ci == index.end() || pi == index.end() || ci->second == pi->second) continue;
      if (component[ci->second] == c && component[pi->second] == c) {
        cycle.constraints.push_back(fk.name);
        cycle.allDeferrable = cycle.allDeferrable && fk.deferrable;
      }
    }
    std::sort(cycle.tables.begin(), cycle.tables.end());
    std::sort(cycle.constraints.begin(), cycle.constraints.end());
    cycles_.push_back(std::move(cycle));
  }
}

int FkGraph::rank(const std::string& table) const {
  auto it = rank_.find(table);
  return it == rank_.end() ? -1 : it->second;
}

std::vector<const ForeignKey*> FkGraph::parentsOf(const std::string& child) const {
  std::vector<const ForeignKey*> out;
  for (const auto& fk : fks_)
    if (fk.child == child) out.push_back(&fk);
  return out;
}

}  // namespace pgmorph
