#include "transform/FkGraph.h"

#include <gtest/gtest.h>

namespace pgmorph {

namespace {
ForeignKey fk(std::string name, std::string child, std::string parent, bool deferrable = false) {
  return ForeignKey{std::move(name), std::move(child), {"x"}, std::move(parent),
                    {"id"},          deferrable,       false};
}
}  // namespace

// The dispatch example's target: jaws reference orders, orders reference patients, ...
TEST(FkGraph, LevelsOfTheDispatchTargetPutEveryParentFirst) {
  std::vector<std::string> tables = {
      "public.offices",  "public.profiles",    "public.doctors",     "public.patients",
      "public.orders",   "public.jaws",        "public.case_files",  "public.system_messages",
      "public.payments", "public.case_states", "public.order_states"};
  std::vector<ForeignKey> fks = {
      fk("profiles_office_id_fkey", "public.profiles", "public.offices"),
      fk("doctors_profile_id_fkey", "public.doctors", "public.profiles"),
      fk("doctors_office_id_fkey", "public.doctors", "public.offices"),
      fk("patients_doctor_id_fkey", "public.patients", "public.doctors"),
      fk("patients_office_id_fkey", "public.patients", "public.offices"),
      fk("orders_patient_id_fkey", "public.orders", "public.patients"),
      fk("orders_doctor_id_fkey", "public.orders", "public.doctors"),
      fk("jaws_order_id_fkey", "public.jaws", "public.orders"),
      fk("case_files_order_id_fkey", "public.case_files", "public.orders"),
      fk("system_messages_recipient_id_fkey", "public.system_messages", "public.profiles"),
      fk("payments_order_id_fkey", "public.payments", "public.orders"),
      fk("case_states_patient_id_fkey", "public.case_states", "public.patients"),
      fk("order_states_order_id_fkey", "public.order_states", "public.orders"),
  };
  FkGraph g(tables, fks);
  EXPECT_TRUE(g.cycles().empty());
  for (const auto& f : fks) EXPECT_LT(g.rank(f.parent), g.rank(f.child)) << f.name;
  ASSERT_EQ(g.levels().size(), 6u);
  EXPECT_EQ(g.levels()[0], std::vector<std::string>{"public.offices"});
  EXPECT_EQ(g.levels()[1], std::vector<std::string>{"public.profiles"});
  EXPECT_EQ(g.levels()[2], (std::vector<std::string>{"public.doctors", "public.system_messages"}));
  EXPECT_EQ(g.levels()[5], (std::vector<std::string>{"public.case_files", "public.jaws",
                                                     "public.order_states", "public.payments"}));
  EXPECT_EQ(g.rank("public.unknown"), -1);
}

TEST(FkGraph, ReportsCyclesWithTheirConstraintNames) {
  FkGraph g({"s.a", "s.b", "s.c", "s.d"},
            {fk("a_b", "s.a", "s.b", true), fk("b_c", "s.b", "s.c", true),
             fk("c_a", "s.c", "s.a", false), fk("d_a", "s.d", "s.a")});
  ASSERT_EQ(g.cycles().size(), 1u);
  EXPECT_EQ(g.cycles()[0].tables, (std::vector<std::string>{"s.a", "s.b", "s.c"}));
  EXPECT_EQ(g.cycles()[0].constraints, (std::vector<std::string>{"a_b", "b_c", "c_a"}));
  EXPECT_FALSE(g.cycles()[0].allDeferrable);
  // The cycle shares one level; its child comes after it.
  EXPECT_EQ(g.rank("s.a"), g.rank("s.b"));
  EXPECT_EQ(g.rank("s.b"), g.rank("s.c"));
  EXPECT_LT(g.rank("s.a"), g.rank("s.d"));
  ASSERT_EQ(g.levels().size(), 2u);
  EXPECT_EQ(g.levels()[0].size(), 3u);
}

TEST(FkGraph, AllDeferrableCycleIsMarkedSo) {
  FkGraph g({"s.a", "s.b"}, {fk("a_b", "s.a", "s.b", true), fk("b_a", "s.b", "s.a", true)});
  ASSERT_EQ(g.cycles().size(), 1u);
  EXPECT_TRUE(g.cycles()[0].allDeferrable);
}

TEST(FkGraph, SelfReferenceIsNotACycleBetweenTables) {
  FkGraph g({"s.emp", "s.dept"},
            {fk("emp_manager", "s.emp", "s.emp"), fk("emp_dept", "s.emp", "s.dept")});
  EXPECT_TRUE(g.cycles().empty());
  ASSERT_EQ(g.selfReferences().size(), 1u);
  EXPECT_EQ(g.selfReferences()[0].name, "emp_manager");
  EXPECT_LT(g.rank("s.dept"), g.rank("s.emp"));
  EXPECT_EQ(g.parentsOf("s.emp").size(), 2u);
}

TEST(FkGraph, ReferencesToTablesOutsideTheGraphDoNotOrderAnything) {
  FkGraph g({"s.a"}, {fk("a_ext", "s.a", "other.ext")});
  ASSERT_EQ(g.levels().size(), 1u);
  EXPECT_EQ(g.rank("s.a"), 0);
  EXPECT_EQ(g.parentsOf("s.a").size(), 1u);
}

}  // namespace pgmorph
