// The pipeline file's `journal:` section and source.journal (ConfigLoaderJournal.cpp):
// defaults, values, paths taken from the file's directory, and each mistake with its line.
#include <gtest/gtest.h>

#include "cdc/model/Errors.h"
#include "transform/ConfigLoader.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using test::errorOf;
using test::load;

const std::string& kBase = test::kMinimalPipeline;

PipelineConfig loadAt(const std::string& yaml, const std::string& file) {
  return ConfigLoader::fromString(yaml, file, test::noEnv());
}

TEST(ConfigLoaderJournal, OffUnlessConfigured) {
  PipelineConfig cfg = load(kBase);
  EXPECT_FALSE(cfg.journal.enabled());
  EXPECT_FALSE(cfg.source.readsJournal());
}

TEST(ConfigLoaderJournal, ReadsEveryKeyAndConfirmsOnTheJournalByDefault) {
  auto j = [](const std::string& body) {
    return loadAt(kBase + "journal:\n" + body, "/etc/pgmorph/p.yaml").journal;
  };
  JournalConfig d = j("  dir: /var/lib/pgmorph/j\n");
  EXPECT_EQ(d.dir, "/var/lib/pgmorph/j");
  EXPECT_EQ(d.confirm, JournalConfig::Confirm::Journal);
  EXPECT_EQ(d.retainBytes, 0u);
  EXPECT_EQ(d.retainAgeSeconds, 0u);
  EXPECT_EQ(d.segmentBytes, 64ull << 20);
  EXPECT_FALSE(d.compress);
  JournalConfig all =
      j("  dir: journal\n  retain_bytes: 2GB\n  retain_age: 7d\n  segment_bytes: 16MB\n"
        "  confirm: target\n  compress: true\n");
  EXPECT_EQ(all.dir, "/etc/pgmorph/journal");  // from the file's directory
  EXPECT_EQ(all.retainBytes, 2ull << 30);
  EXPECT_EQ(all.retainAgeSeconds, 7u * 86400);
  EXPECT_EQ(all.segmentBytes, 16ull << 20);
  EXPECT_EQ(all.confirm, JournalConfig::Confirm::Target);
  EXPECT_TRUE(all.compress);
  EXPECT_EQ(j("  dir: ../j/./x\n  retain_age: 90m\n").retainAgeSeconds, 5400u);
  EXPECT_EQ(j("  dir: ../j/./x\n").dir, "/etc/j/x");
}

TEST(ConfigLoaderJournal, ASourceJournalNeedsNoConninfo) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("  conninfo: \"host=a\"\n"), 21, "  journal: ../shared/j\n");
  PipelineConfig cfg = loadAt(yaml, "/srv/rehearsal/p.yaml");
  EXPECT_TRUE(cfg.source.readsJournal());
  EXPECT_EQ(cfg.source.journal, "/srv/shared/j");
  EXPECT_EQ(cfg.source.conninfo, "");
}

TEST(ConfigLoaderJournal, MistakesAreNamedWithTheirLine) {
  EXPECT_EQ(errorOf(kBase + "journal:\n  retain_bytes: 1GB\n"),
            "mapping.yaml:15: journal: missing required key 'dir'");
  EXPECT_EQ(errorOf(kBase + "journal:\n  dir: j\n  retain_age: a week\n"),
            "mapping.yaml:16: journal.retain_age: 'a week' is not a duration: write seconds or "
            "a number with s, m, h or d (e.g. 7d; 0 = no limit)");
  EXPECT_EQ(errorOf(kBase + "journal:\n  dir: j\n  retain_bytes: lots\n"),
            "mapping.yaml:16: journal.retain_bytes: 'lots' is not a size: write bytes or a "
            "number with kB, MB, GB or TB (e.g. 20GB)");
  EXPECT_EQ(errorOf(kBase + "journal:\n  dir: j\n  confirm: source\n"),
            "mapping.yaml:16: journal.confirm: 'source' is not who confirms the slot: expected "
            "journal (once the journal is durable) or target (once the target committed)");
  EXPECT_EQ(errorOf(kBase + "journal:\n  dir: j\n  segment_bytes: 1kB\n"),
            "mapping.yaml:16: journal.segment_bytes: 1024 bytes is too small: at least 65536 "
            "bytes");
  std::string reader = kBase;
  reader.replace(reader.find("  conninfo: \"host=a\"\n"), 21, "  journal: /j\n");
  EXPECT_NE(errorOf(reader + "journal:\n  dir: /k\n").find("cannot write one"), std::string::npos);
  EXPECT_NE(errorOf(kBase + "journal:\n  dir: j\n  size: 1\n").find("mapping.yaml:16: journal"),
            std::string::npos);
}

}  // namespace
}  // namespace pgmorph
