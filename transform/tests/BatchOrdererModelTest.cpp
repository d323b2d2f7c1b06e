// BatchOrderer against a model: random batches of writes are applied to an in-memory model
// of the target, once in source order and once in the orderer's order; the final states
// must be equal. Plus the grouping that makes the order worth having: partial writes of
// many source rows come out as long runs of one plan and op.
#include <gtest/gtest.h>

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
  for (int round = 0; round < 5000; ++round) {
    Writes w;
    // The batch starts from rows that exist: jaws 40..43, orders 20..22 (as earlier batches
    // would have left them).
    Model before;
    {
      Writes seed;
      for (int j = 40; j < 44; ++j) seed.upsert(*s.jaws, j, {"seed.stl"});
      for (int o = 20; o < 23; ++o) seed.upsert(*s.orders, o, {rowText(10), "draft", "n"});
      for (const auto& x : seed.list) before.apply(x);
    }
    int length = 2 + pick(14);
    // A deleted jaw is not written again in the batch, apart from releases (predicates): a
    // set-columns of a missing row is refused at the source's position but lands after a
    // re-insert that the orderer moved ahead of it (where parking would take it anyway).
    std::set<int> deadJaws;
    for (int i = 0; i < length; ++i) {
      const WritePlan& partial = pick(2) ? *s.upperJaws : *s.lowerJaws;
      const std::string type = &partial == s.upperJaws ? "upper" : "lower";
      int jaw = 40 + pick(4), order = 20 + pick(3);
      bool dead = deadJaws.count(jaw) > 0;
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
          w.upsert(*s.orders, order, {rowText(10), "st" + std::to_string(i), "-"});
          break;
        case 7:
          w.upsert(*s.payments, 30 + pick(3), {rowText(order), std::to_string(i)});
          break;
        case 8:
          if (pick(2))
            w.remove(*s.payments, 30 + pick(3));
          else if (!dead)
            w.upsert(*s.jaws, jaw, {"-"});
          break;
        case 9:
          w.remove(*s.jaws, jaw);
          deadJaws.insert(jaw);
          break;
        case 10:
          w.remove(*s.orders, order);
          break;
        case 11:
          if (pick(4) == 0) {
            w.truncate(*s.payments);
          } else if (!dead) {
            w.set(partial, jaw, {"~", type});
          }
          break;
      }
    }
    Model inSource = before, ordered = before;
    for (const auto& x : w.list) inSource.apply(x);
    const auto& b = orderer.order(w.list);
    for (const auto& ow : b.writes) ordered.apply(*ow.write);
    if (!(inSource == ordered)) {
      std::string writes;
      for (const auto& x : w.list) writes += "  " + render(x) + "\n";
      std::string order;
      for (const auto& x : render(b)) order += "  " + x + "\n";
      FAIL() << "round " << round << "\nsource order:\n"
             << writes << "ordered:\n"
             << order << "expected:\n"
             << inSource.dump() << "got:\n"
             << ordered.dump();
    }
  }
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
