// The pipeline file's `slot:` section (ConfigLoaderSlot.cpp): defaults, values, and each
// mistake with its file:line.
#include <gtest/gtest.h>

#include "cdc/model/Errors.h"
#include "transform/ConfigLoader.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using test::errorOf;
using test::load;

const std::string& kBase = test::kMinimalPipeline;

TEST(ConfigLoaderSlot, DefaultsAreATenSecondHeartbeatAndNoLimit) {
  PipelineConfig cfg = load(kBase);
  EXPECT_EQ(cfg.slot.heartbeatIntervalMillis, 10000u);
  EXPECT_EQ(cfg.slot.maxRetainedWalBytes, 0u);
}

TEST(ConfigLoaderSlot, ReadsTheIntervalAndSizesInPostgresUnits) {
  auto slot = [](const std::string& body) { return load(kBase + "slot:\n" + body).slot; };
  EXPECT_EQ(slot("  heartbeat_interval_ms: 0\n").heartbeatIntervalMillis, 0u);
  EXPECT_EQ(slot("  heartbeat_interval_ms: 2500\n").heartbeatIntervalMillis, 2500u);
  EXPECT_EQ(slot("  max_retained_wal: 1GB\n").maxRetainedWalBytes, 1024ull * 1024 * 1024);
  EXPECT_EQ(slot("  max_retained_wal: 512MB\n").maxRetainedWalBytes, 512ull * 1024 * 1024);
  EXPECT_EQ(slot("  max_retained_wal: 64kB\n").maxRetainedWalBytes, 64u * 1024);
  EXPECT_EQ(slot("  max_retained_wal: 1.5GB\n").maxRetainedWalBytes, 1536ull * 1024 * 1024);
  EXPECT_EQ(slot("  max_retained_wal: 4096\n").maxRetainedWalBytes, 4096u);
}

TEST(ConfigLoaderSlot, MistakesAreNamedWithTheirLine) {
  EXPECT_EQ(errorOf(kBase + "slot:\n  heartbeat_interval_ms: 10s\n"),
            "mapping.yaml:15: slot.heartbeat_interval_ms: expected a whole number of "
            "milliseconds from 0 (no heartbeat) to 3600000, got '10s'");
  EXPECT_EQ(errorOf(kBase + "slot:\n  heartbeat_interval_ms: -1\n"),
            "mapping.yaml:15: slot.heartbeat_interval_ms: expected a whole number of "
            "milliseconds from 0 (no heartbeat) to 3600000, got '-1'");
  EXPECT_EQ(errorOf(kBase + "slot:\n  max_retained_wal: lots\n"),
            "mapping.yaml:15: slot.max_retained_wal: 'lots' is not a size: write bytes or a "
            "number with kB, MB, GB or TB (e.g. 1GB; 0 = no limit)");
  EXPECT_EQ(errorOf(kBase + "slot:\n  max_retained_wal: 1GiB\n"),
            "mapping.yaml:15: slot.max_retained_wal: '1GiB' is not a size: write bytes or a "
            "number with kB, MB, GB or TB (e.g. 1GB; 0 = no limit)");
  EXPECT_NE(errorOf(kBase + "slot:\n  name: x\n").find("mapping.yaml:15: slot"), std::string::npos);
  EXPECT_NE(errorOf(kBase + "slot: 3\n").find("mapping.yaml:14: slot"), std::string::npos);
}

}  // namespace
}  // namespace pgmorph
