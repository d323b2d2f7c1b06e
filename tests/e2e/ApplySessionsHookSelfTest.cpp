// The PGMORPH_TEST_APPLY_SESSIONS hook checks itself, without a database: withApplySessions
// must give pgmorph's own loader a file whose apply.sessions is N, and leave every other apply
// setting of the test as it was, for each shape of `apply:` the e2e tests write (none, the
// example's MappingEdit flow map, a block map) — or the suite "run with sessions" would
// silently run without them, or with a test's settings lost.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "tests/e2e/ExampleConfig.h"
#include "transform/ConfigLoader.h"

namespace pgmorph::e2e {
namespace {

ApplyConfig applyOf(const std::string& yaml) {
  auto noEnv = [](std::string_view) { return std::optional<std::string>(); };
  return ConfigLoader::fromString(yaml, "hook-self-test.yaml", noEnv).apply;
}

std::string example(std::vector<MappingEdit> edits = {}) {
  return exampleConfig(
      ExampleSettings{"host=h dbname=s", "host=h dbname=t", "p", "s", "state", std::move(edits)});
}

TEST(ApplySessionsHook, AddsAnApplySectionToTheExample) {
  ASSERT_EQ(applyOf(example()).sessions, 1u);
  EXPECT_EQ(applyOf(withApplySessions(example(), 2)).sessions, 2u);
}

TEST(ApplySessionsHook, MergesIntoAFlowMapKeepingItsKeys) {
  for (const char* flow :
       {"apply: { status_interval_ms: 60000 }", "apply: {status_interval_ms: 60000}"}) {
    std::string yaml =
        withApplySessions(example({{"tables:", std::string(flow) + "\ntables:"}}), 3);
    ApplyConfig apply = applyOf(yaml);
    EXPECT_EQ(apply.sessions, 3u) << yaml;
    EXPECT_EQ(apply.statusIntervalMillis, 60000u) << yaml;
  }
  EXPECT_EQ(applyOf(withApplySessions(example({{"tables:", "apply: {}\ntables:"}}), 3)).sessions,
            3u);
}

TEST(ApplySessionsHook, MergesIntoABlockMapKeepingItsKeys) {
  std::string yaml = withApplySessions(
      example(
          {{"tables:", "apply:\n    batch_changes: 200  # a comment\n    batch_ms: 50\ntables:"}}),
      4);
  ApplyConfig apply = applyOf(yaml);
  EXPECT_EQ(apply.sessions, 4u) << yaml;
  EXPECT_EQ(apply.batchChanges, 200u) << yaml;
  EXPECT_EQ(apply.batchMillis, 50u) << yaml;
}

TEST(ApplySessionsHook, ATestsOwnSessionsWins) {
  std::string block = example({{"tables:", "apply:\n  sessions: 3\n  batch_ms: 50\ntables:"}});
  EXPECT_EQ(withApplySessions(block, 2), block);
  std::string flow = example({{"tables:", "apply: { batch_ms: 50, sessions: 3 }\ntables:"}});
  EXPECT_EQ(withApplySessions(flow, 2), flow);
  EXPECT_EQ(applyOf(withApplySessions(flow, 2)).sessions, 3u);
}

}  // namespace
}  // namespace pgmorph::e2e
