// The pipeline file's loader: every section, and each mistake a user can make with its
// file:line. Over 400 lines: one case per section and per error message, sharing one helper
// that loads a file from text.
#include "transform/ConfigLoader.h"

#include <gtest/gtest.h>

#include <map>

#include "cdc/model/Errors.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using test::dispatchMappingText;
using test::errorOf;
using test::load;
using test::loadDispatch;

const TargetMapping& target(const PipelineConfig& cfg, std::string_view table, std::size_t i) {
  const TableMapping* t = cfg.findTable("public", table);
  if (!t) throw std::runtime_error("table not mapped: " + std::string(table));
  return t->targets.at(i);
}

const ColumnMapping& column(const TargetMapping& m, std::string_view source) {
  for (const auto& c : m.columns)
    if (c.source == source) return c;
  throw std::runtime_error("no column " + std::string(source));
}

int lineOf(const std::string& text, std::string_view needle) {
  auto pos = text.find(needle);
  if (pos == std::string::npos) throw std::runtime_error("not in the file: " + std::string(needle));
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
}

std::string replaceOnce(std::string text, std::string_view from, std::string_view to) {
  auto pos = text.find(from);
  if (pos == std::string::npos) throw std::runtime_error("not in the text: " + std::string(from));
  return text.replace(pos, from.size(), to);
}

// The message of the ConfigError that loading `yaml` throws ("" when it loads).
const std::string& kBase = test::kMinimalPipeline;

TEST(ConfigLoader, LoadsThePipelineSectionsOfTheExample) {
  PipelineConfig cfg = loadDispatch();
  EXPECT_EQ(cfg.file, "mapping.yaml");
  EXPECT_EQ(cfg.pipeline, "dispatch");
  EXPECT_EQ(cfg.source.conninfo, "host=127.0.0.1 port=55432 dbname=legacy");
  EXPECT_EQ(cfg.source.slot, "pgmorph_dispatch");
  EXPECT_EQ(cfg.source.timezone, "UTC");
  EXPECT_EQ(cfg.target.conninfo, "host=127.0.0.1 port=55433 dbname=modern");
  EXPECT_EQ(cfg.target.stateSchema, "pgmorph");
  EXPECT_EQ(cfg.idNamespace, "8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b");
  EXPECT_EQ(cfg.apply.batchChanges, ApplyConfig{}.batchChanges);

  std::vector<std::string> names;
  for (const auto& t : cfg.tables) names.push_back(t.idName);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "dispatch_office", "dispatch_user", "dispatch_doctor", "dispatch_patient",
                       "dispatch_jaw", "dispatch_instruction", "dispatch_file",
                       "dispatch_notification", "dispatch_payment", "dispatch_state"}));
  for (const auto& t : cfg.tables) {
    EXPECT_EQ(t.sourceSchema, "public");
    EXPECT_EQ(t.sourceTable, t.idName);
    EXPECT_EQ(t.keyColumns, std::vector<std::string>{"id"});
  }
}

TEST(ConfigLoader, LoadsRenamesConversionsRefsAndPolicies) {
  PipelineConfig cfg = loadDispatch();
  std::string text = dispatchMappingText();

  const TargetMapping& offices = target(cfg, "dispatch_office", 0);
  EXPECT_EQ(offices.target, "offices");
  EXPECT_EQ(offices.targetSchema, "public");
  EXPECT_EQ(offices.mode, TargetMode::Upsert);
  EXPECT_EQ(offices.keyColumns, std::vector<std::string>{"id"});
  EXPECT_EQ(offices.keyTable, "dispatch_office");
  EXPECT_EQ(offices.idColumn, "id");
  EXPECT_EQ(offices.legacyIdColumn, "legacy_office_id");
  EXPECT_EQ(column(offices, "country").target, "country_code");
  EXPECT_EQ(column(offices, "country").conversion, Conversion::None);
  EXPECT_EQ(column(offices, "created_at").conversion, Conversion::Timestamptz);
  EXPECT_EQ(column(offices, "created_at").typeName, "timestamptz");

  const TargetMapping& profiles = target(cfg, "dispatch_user", 0);
  EXPECT_EQ(column(profiles, "office_id").ref, "dispatch_office");
  EXPECT_EQ(column(profiles, "office_id").onMissing, RowPolicy::Null);
  EXPECT_EQ(column(profiles, "is_active").conversion, Conversion::Boolean);
  EXPECT_EQ(column(profiles, "date_joined").target, "joined_at");

  const TargetMapping& doctors = target(cfg, "dispatch_doctor", 0);
  const ColumnMapping& user = column(doctors, "user_id");
  EXPECT_EQ(user.ref, "dispatch_user");
  EXPECT_EQ(user.onMissing, RowPolicy::Park);  // the default
  EXPECT_EQ(user.onError, RowPolicy::Park);
  EXPECT_EQ(user.line, lineOf(text, "user_id: { to: profile_id"));

  const TargetMapping& messages = target(cfg, "dispatch_notification", 0);
  EXPECT_EQ(column(messages, "template_context").conversion, Conversion::Jsonb);
  EXPECT_EQ(column(messages, "template_context").onError, RowPolicy::Park);
  EXPECT_EQ(column(messages, "recipient_id").ref, "dispatch_user");
}

TEST(ConfigLoader, LoadsMapDefaultSetWhereAndPartialTargets) {
  PipelineConfig cfg = loadDispatch();
  const ColumnMapping& status = column(target(cfg, "dispatch_instruction", 0), "status");
  EXPECT_EQ(status.map, (std::vector<std::pair<std::string, std::string>>{{"0", "draft"},
                                                                          {"1", "submitted"},
                                                                          {"2", "in_production"},
                                                                          {"3", "shipped"},
                                                                          {"4", "cancelled"}}));

  const TargetMapping& payments = target(cfg, "dispatch_payment", 0);
  EXPECT_EQ(column(payments, "method").target, "payment_method");
  EXPECT_EQ(column(payments, "method").defaultValue, "unknown");
  ASSERT_EQ(payments.set.size(), 1u);
  EXPECT_EQ(payments.set[0].target, "payment_status");
  EXPECT_EQ(payments.set[0].value, "completed");

  const TargetMapping& caseStates = target(cfg, "dispatch_state", 0);
  const TargetMapping& orderStates = target(cfg, "dispatch_state", 1);
  EXPECT_EQ(caseStates.target, "case_states");
  ASSERT_EQ(caseStates.where.size(), 1u);
  EXPECT_EQ(caseStates.where[0].column, "kind");
  EXPECT_EQ(caseStates.where[0].values, std::vector<std::string>{"case"});
  EXPECT_EQ(orderStates.where[0].values, std::vector<std::string>{"order"});

  for (std::size_t i : {1u, 2u}) {
    const TargetMapping& jaws = target(cfg, "dispatch_instruction", i);
    EXPECT_EQ(jaws.target, "jaws");
    EXPECT_EQ(jaws.mode, TargetMode::Update);
    EXPECT_EQ(jaws.keyColumns, std::vector<std::string>{i == 1 ? "upper_jaw_id" : "lower_jaw_id"});
    EXPECT_EQ(jaws.keyTable, "dispatch_jaw");
    EXPECT_FALSE(jaws.legacyIdColumn.has_value());
    EXPECT_EQ(column(jaws, "id").target, "order_id");
    EXPECT_EQ(column(jaws, "id").ref, "dispatch_instruction");
    ASSERT_EQ(jaws.set.size(), 1u);
    EXPECT_EQ(jaws.set[0].target, "jaw_type");
    EXPECT_EQ(jaws.set[0].value, i == 1 ? "upper" : "lower");
  }
}

TEST(ConfigLoader, ExpandsVariablesAndAppliesDefaults) {
  std::map<std::string, std::string, std::less<>> env = {{"SRC_PASS", "s3cret"},
                                                         {"TZ_OF_LEGACY", "America/New_York"}};
  EnvLookup lookup = [&](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  std::string yaml = replaceOnce(kBase, "conninfo: \"host=a\"",
                                 "conninfo: \"host=a password=${SRC_PASS} x=$5\"\n"
                                 "  timezone: ${TZ_OF_LEGACY}");
  yaml = replaceOnce(yaml, "        a: b\n",
                     "        a: b\n      set:\n        - { to: c, value: \"v-${SRC_PASS}\" }\n");
  PipelineConfig cfg = load(yaml, lookup);
  EXPECT_EQ(cfg.source.conninfo, "host=a password=s3cret x=$5");
  EXPECT_EQ(cfg.source.timezone, "America/New_York");
  EXPECT_EQ(cfg.source.slot, "pgmorph_p");
  EXPECT_EQ(cfg.target.stateSchema, "pgmorph");
  EXPECT_EQ(cfg.tables[0].targets[0].set[0].value, "v-s3cret");
}

TEST(ConfigLoader, AcceptsQualifiedNamesCompositeKeysConstantsAndApply) {
  std::string yaml = R"yaml(pipeline: p
source: { conninfo: "host=a", slot: my_slot }
target: { conninfo: "host=b", state_schema: sync_state }
ids: { namespace: 8D3E2F4A-1C5B-4E7A-9B1F-3C2D4E5F6A7B }
apply: { batch_changes: 100, batch_ms: 50, status_interval_ms: 250, sessions: 3, lock_timeout_ms: 700 }
tables:
  legacy.parent:
    - target: modern.parents
      key: [region, num]
      legacy_id: legacy_key
      columns:
        name: name
        _: { to: origin, value: legacy }
  child:
    - target: children
      key: id
      columns:
        parent_id: { to: parent_id, ref: public.child }
        flag: { to: flag, type: bool, map: { Y: 1, N: 0 } }
        amount: { to: amount, type: "numeric(12,2)" }
      where: { kind: [a, b], active: 1 }
)yaml";
  PipelineConfig cfg = load(yaml);
  EXPECT_EQ(cfg.source.slot, "my_slot");
  EXPECT_EQ(cfg.target.stateSchema, "sync_state");
  EXPECT_EQ(cfg.idNamespace, "8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b");
  EXPECT_EQ(cfg.apply.batchChanges, 100u);
  EXPECT_EQ(cfg.apply.batchMillis, 50u);
  EXPECT_EQ(cfg.apply.statusIntervalMillis, 250u);
  EXPECT_EQ(cfg.apply.sessions, 3u);
  EXPECT_EQ(cfg.apply.lockTimeoutMillis, 700u);

  const TableMapping* parent = cfg.findTable("legacy", "parent");
  ASSERT_NE(parent, nullptr);
  EXPECT_EQ(parent->idName, "legacy.parent");
  EXPECT_EQ(cfg.findTableByName("legacy.parent"), parent);
  EXPECT_EQ(cfg.findTableByName("parent"), nullptr);  // that would be public.parent
  EXPECT_EQ(parent->keyColumns, (std::vector<std::string>{"region", "num"}));
  EXPECT_EQ(parent->targets[0].targetSchema, "modern");
  EXPECT_EQ(parent->targets[0].target, "parents");
  ASSERT_EQ(parent->targets[0].set.size(), 1u);
  EXPECT_EQ(parent->targets[0].set[0].target, "origin");

  const TargetMapping& child = cfg.findTableByName("child")->targets[0];
  EXPECT_EQ(child.columns[0].ref, "child");  // the referenced table's name as it is mapped
  EXPECT_EQ(child.columns[1].conversion, Conversion::Boolean);
  EXPECT_EQ(child.columns[1].typeName, "bool");
  EXPECT_EQ(child.columns[2].conversion, Conversion::Other);
  EXPECT_EQ(child.columns[2].typeName, "numeric(12,2)");
  ASSERT_EQ(child.where.size(), 2u);
  EXPECT_EQ(child.where[0].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(child.where[1].values, std::vector<std::string>{"1"});
}

TEST(ConfigLoader, RefToAnUnmappedTableNamesFileLineAndTheMappedTables) {
  std::string text = replaceOnce(dispatchMappingText(), "{ to: profile_id, ref: dispatch_user }",
                                 "{ to: profile_id, ref: dispatch_usr }");
  EXPECT_EQ(errorOf(text),
            "mapping.yaml:" + std::to_string(lineOf(text, "ref: dispatch_usr")) +
                ": tables.dispatch_doctor[0].columns.user_id: ref names 'dispatch_usr', which is "
                "not a mapped source table (mapped: dispatch_office, dispatch_user, "
                "dispatch_doctor, dispatch_patient, dispatch_jaw, dispatch_instruction, "
                "dispatch_file, dispatch_notification, dispatch_payment, dispatch_state)");
}

TEST(ConfigLoader, UnknownKeyIsNamedWithItsLine) {
  std::string yaml =
      replaceOnce(kBase, "  conninfo: \"host=b\"\n", "  conninfo: \"host=b\"\n  stat_schema: x\n");
  EXPECT_EQ(errorOf(yaml),
            "mapping.yaml:6: target.stat_schema: unknown key (expected one of: conninfo, "
            "state_schema)");
  yaml = replaceOnce(kBase, "        a: b", "        a: { to: b, on_eror: park }");
  EXPECT_EQ(errorOf(yaml),
            "mapping.yaml:13: tables.t[0].columns.a.on_eror: unknown key (expected one of: to, "
            "type, ref, on_missing, map, default, on_error)");
}

TEST(ConfigLoader, MissingRequiredKeyIsNamedAtItsMap) {
  EXPECT_EQ(errorOf(replaceOnce(kBase, "    - target: t2\n      key: id\n", "    - key: id\n")),
            "mapping.yaml:10: tables.t[0]: missing required key 'target'");
  EXPECT_EQ(
      errorOf(replaceOnce(kBase, "ids:\n  namespace: 8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b\n", "")),
      "mapping.yaml:1: missing required key 'ids'");
  EXPECT_EQ(errorOf(replaceOnce(kBase, "  conninfo: \"host=a\"", "  slot: s")),
            "mapping.yaml:3: source: missing required key 'conninfo'");
  EXPECT_EQ(errorOf(replaceOnce(kBase, "a: b", "a: { type: jsonb }")),
            "mapping.yaml:13: tables.t[0].columns.a: missing required key 'to'");
}

TEST(ConfigLoader, WrongTypesAreNamed) {
  EXPECT_EQ(
      errorOf(replaceOnce(kBase, "      columns:\n        a: b\n", "      columns: [a, b]\n")),
      "mapping.yaml:12: tables.t[0].columns: expected a map, got a list");
  EXPECT_EQ(errorOf(replaceOnce(kBase, "pipeline: p", "pipeline: [p]")),
            "mapping.yaml:1: pipeline: expected a value, got a list");
  EXPECT_EQ(errorOf(replaceOnce(
                kBase, "  t:\n    - target: t2\n      key: id\n      columns:\n        a: b\n",
                "  t:\n    target: t2\n")),
            "mapping.yaml:10: tables.t: expected a list, got a map");
  EXPECT_EQ(errorOf(replaceOnce(kBase, "a: b", "a:")),
            "mapping.yaml:13: tables.t[0].columns.a: expected a target column or { to: column, "
            "...options }, got nothing");
  EXPECT_NE(errorOf(kBase + "apply: { batch_changes: many }")
                .find("apply.batch_changes: expected a whole number from 1 to"),
            std::string::npos);
}

TEST(ConfigLoader, BadEnumValuesAreNamed) {
  EXPECT_EQ(errorOf(replaceOnce(kBase, "a: b", "a: { to: b, on_error: drop }")),
            "mapping.yaml:13: tables.t[0].columns.a.on_error: bad value 'drop' (expected park, "
            "null or fail)");
  EXPECT_EQ(errorOf(replaceOnce(kBase, "a: b", "a: { to: b, on_missing: skip }")),
            "mapping.yaml:13: tables.t[0].columns.a.on_missing: bad value 'skip' (expected park, "
            "null or fail)");
  EXPECT_EQ(errorOf(replaceOnce(kBase, "      key: id\n", "      key: id\n      mode: insert\n")),
            "mapping.yaml:12: tables.t[0].mode: bad value 'insert' (expected upsert or update)");
  EXPECT_NE(
      errorOf(replaceOnce(kBase, "a: b", "a: { to: b, type: \"text; drop table x\" }"))
          .find("mapping.yaml:13: tables.t[0].columns.a.type: bad value 'text; drop table x'"),
      std::string::npos);
}

TEST(ConfigLoader, UndefinedVariableIsNamedWithoutAnyValue) {
  std::string message = errorOf(replaceOnce(kBase, "host=a", "host=a password=${PGPASSWORD_SRC}"));
  EXPECT_EQ(message,
            "mapping.yaml:3: source.conninfo: ${PGPASSWORD_SRC} is not set in the environment; "
            "export PGPASSWORD_SRC or write the value in the file");
  EXPECT_NE(errorOf(replaceOnce(kBase, "host=a", "host=${OOPS")).find("without its closing"),
            std::string::npos);
}

TEST(ConfigLoader, KeyTableAndWhereAndKeyProblemsAreNamed) {
  std::string text = dispatchMappingText();
  std::string badKeyTable = replaceOnce(text, "table: dispatch_jaw }", "table: dispatch_jaws }");
  EXPECT_NE(errorOf(badKeyTable)
                .find("tables.dispatch_instruction[1].key.table: key.table names 'dispatch_jaws', "
                      "which is not a mapped source table"),
            std::string::npos);
  EXPECT_NE(errorOf(replaceOnce(text, "where: { kind: case }", "where: { kind: [] }"))
                .find("tables.dispatch_state[0].where.kind: the list of values is empty"),
            std::string::npos);
  EXPECT_NE(
      errorOf(replaceOnce(kBase, "key: id", "key: [id, id]")).find("column 'id' is listed twice"),
      std::string::npos);
  EXPECT_NE(errorOf(replaceOnce(kBase, "key: id", "key: { column: x, table: t }"))
                .find("it is only for mode: update"),
            std::string::npos);
  EXPECT_NE(
      errorOf(replaceOnce(kBase, "a: b", "a: id")).find("target column t2.id is written twice"),
      std::string::npos);
  std::string compositeRef = replaceOnce(kBase, "key: id", "key: [id, part]");
  compositeRef = replaceOnce(compositeRef, "a: b", "a: { to: b, ref: t }");
  EXPECT_EQ(errorOf(compositeRef),
            "mapping.yaml:13: tables.t[0].columns.a: ref names 't', whose key has 2 columns; a ref "
            "is one column");
  EXPECT_EQ(errorOf(replaceOnce(kBase, "      key: id\n", "      key:\n")),
            "mapping.yaml:11: tables.t[0].key: expected a column, a list of columns or {column, "
            "table}, got nothing");
}

TEST(ConfigLoader, PartialTargetWithoutOwnerColumnIsRefused) {
  std::string text = replaceOnce(dispatchMappingText(),
                                 "      key: { column: upper_jaw_id, table: dispatch_jaw }\n"
                                 "      mode: update\n"
                                 "      columns:\n"
                                 "        id: { to: order_id, ref: dispatch_instruction }\n",
                                 "      key: { column: upper_jaw_id, table: dispatch_jaw }\n"
                                 "      mode: update\n"
                                 "      columns:\n"
                                 "        status: status_of_order\n");
  std::string message = errorOf(text);
  EXPECT_NE(
      message.find(std::string("mapping.yaml:") +
                   std::to_string(lineOf(text, "    - target: jaws\n      key: { column: upper")) +
                   ": tables.dispatch_instruction[1]: this mode: update target has no owner "
                   "column: map the key column 'id' of dispatch_instruction"),
      std::string::npos)
      << message;
}

TEST(ConfigLoader, BadNamespaceSlotAndYamlAreNamed) {
  EXPECT_EQ(errorOf(replaceOnce(kBase, "8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b", "not-a-uuid")),
            "mapping.yaml:7: ids.namespace: 'not-a-uuid' is not a UUID (expected 8-4-4-4-12 hex "
            "digits, e.g. 8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b)");
  EXPECT_NE(errorOf(replaceOnce(kBase, "pipeline: p", "pipeline: Big-Name"))
                .find("source.slot: 'pgmorph_Big-Name' is not a valid replication slot name"),
            std::string::npos);
  EXPECT_EQ(errorOf(replaceOnce(kBase, "        a: b\n", "        a: [b\n")).substr(0, 29),
            "mapping.yaml:14: not valid YA");
  EXPECT_EQ(errorOf(""),
            "mapping.yaml:1: the file is empty; expected pipeline, source, target, "
            "ids and tables");
  EXPECT_EQ(errorOf(kBase + "pipeline: again\n"), "mapping.yaml:14: pipeline: key appears twice");
}

TEST(ConfigLoader, SnapshotDeferIndexesIsOnByDefaultAndCanBeTurnedOff) {
  EXPECT_TRUE(load(kBase).snapshot.deferIndexes);
  EXPECT_TRUE(load(kBase + "snapshot: { defer_indexes: true }\n").snapshot.deferIndexes);
  EXPECT_FALSE(load(kBase + "snapshot: { defer_indexes: false }\n").snapshot.deferIndexes);
  EXPECT_EQ(errorOf(kBase + "snapshot: { defer_indexes: maybe }\n"),
            "mapping.yaml:14: snapshot.defer_indexes: 'maybe' is not a boolean (expected true or "
            "false)");
  EXPECT_NE(errorOf(kBase + "snapshot: { jobs: 3 }\n").find("snapshot"), std::string::npos);
}

TEST(ConfigLoader, SnapshotIndexForeignKeysIsOffByDefault) {
  EXPECT_FALSE(load(kBase).snapshot.indexForeignKeys);
  EXPECT_TRUE(load(kBase + "snapshot: { index_foreign_keys: true }\n").snapshot.indexForeignKeys);
  EXPECT_EQ(errorOf(kBase + "snapshot: { index_foreign_keys: yes please }\n"),
            "mapping.yaml:14: snapshot.index_foreign_keys: 'yes please' is not a boolean "
            "(expected true or false)");
}

TEST(ConfigLoader, MetricsSection) {
  PipelineConfig off = load(kBase);
  EXPECT_EQ(off.metrics.listen, "");
  EXPECT_EQ(off.metrics.maxLagSeconds, 60);
  PipelineConfig cfg =
      load(kBase + "metrics:\n  listen: \"127.0.0.1:9187\"\n  max_lag_seconds: 2.5\n");
  EXPECT_EQ(cfg.metrics.listen, "127.0.0.1:9187");
  EXPECT_EQ(cfg.metrics.line, 15);
  EXPECT_EQ(cfg.metrics.maxLagSeconds, 2.5);
  EXPECT_EQ(errorOf(kBase + "metrics:\n  listen: \"localhost\"\n"),
            "mapping.yaml:15: metrics.listen: 'localhost' is not HOST:PORT (e.g. 127.0.0.1:9187)");
  EXPECT_EQ(errorOf(kBase + "metrics:\n  listen: \"h:70000\"\n"),
            "mapping.yaml:15: metrics.listen: 'h:70000' is not HOST:PORT (e.g. 127.0.0.1:9187)");
  EXPECT_EQ(errorOf(kBase + "metrics:\n  max_lag_seconds: soon\n"),
            "mapping.yaml:15: metrics.max_lag_seconds: 'soon' is not a positive number of seconds");
  EXPECT_NE(errorOf(kBase + "metrics:\n  port: 1\n").find("mapping.yaml:15: metrics"),
            std::string::npos);
}

}  // namespace
}  // namespace pgmorph
