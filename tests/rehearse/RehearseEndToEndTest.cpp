// End to end: `pgmorph rehearse` twice on one source (its own small schema, two tables with a
// foreign key, the shared clusters). The first run writes report.md/json/html with every phase
// and verify equal; a second run without --reset refuses (exit 2) naming a table that holds rows;
// with --reset it rehearses again: the same ids in every target table, the same verify result,
// and a report compared with the first one (kept as report.previous.json). The HTML is rendered
// by headless Chromium: its printed text must show the phases and the tables, and a screenshot
// must have been drawn. Chromium and pdftotext are required (deploy/install-deps.sh): the test
// fails without them rather than skipping.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/ChildProcess.h"
#include "tests/support/PgCluster.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kSourceSql = R"sql(
CREATE TABLE inv_item (sku integer PRIMARY KEY, label text NOT NULL, qty integer, attrs text);
CREATE TABLE inv_move (id bigserial PRIMARY KEY, sku integer, delta integer, note text);
INSERT INTO inv_item SELECT g, 'item ' || g, g % 17, '{"bin": ' || g || '}'
  FROM generate_series(1, 3000) g;
INSERT INTO inv_move (sku, delta, note) SELECT 1 + g % 3000, g % 9 - 4, 'initial'
  FROM generate_series(1, 20000) g;
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE items (id uuid PRIMARY KEY, label text NOT NULL, qty integer, attrs jsonb,
                    sku integer);
CREATE TABLE moves (id uuid PRIMARY KEY, item_id uuid REFERENCES items (id), delta integer,
                    note text);
CREATE INDEX ON moves (item_id);
)sql";

// Updates only: the rows (and so the ids) stay the same from one rehearsal to the next, while the
// catch-up has changes to apply.
constexpr const char* kWorkload = R"(\set sku random(1, 3000)
\set d random(-5, 5)
BEGIN;
UPDATE inv_item SET qty = qty + :d WHERE sku = :sku;
UPDATE inv_move SET delta = delta + :d WHERE id = :sku * 6;
END;
)";

const std::vector<std::string> kPhases = {"slot creation", "copy", "index rebuild + FK validation",
                                          "catch-up", "verify"};

std::string mappingYaml(const std::string& source, const std::string& target,
                        const std::string& slot) {
  return fmt::format(R"(pipeline: inv_rehearsal
source: {{ conninfo: "{}", slot: {} }}
target: {{ conninfo: "{}", state_schema: inv_state }}
ids: {{ namespace: 7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d }}
tables:
  inv_item:
    - target: items
      key: sku
      legacy_id: sku
      columns:
        label: label
        qty: qty
        attrs: {{ to: attrs, type: jsonb }}
  inv_move:
    - target: moves
      key: id
      columns:
        sku: {{ to: item_id, ref: inv_item }}
        delta: delta
        note: note
)",
                     source, slot, target);
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RehearseEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sourceDb_ = test::sharedSource().createDatabase("rh");
    targetDb_ = test::sharedTarget().createDatabase("rh");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceSql);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    base_ = fmt::format("/tmp/pgmorph-rehearse-{}", sourceDb_);
    dir_ = base_ + ".report";
    std::ofstream(base_ + ".pgbench") << kWorkload;
    std::ofstream(base_ + ".yaml") << mappingYaml(test::sharedSource().conninfo(sourceDb_),
                                                  test::sharedTarget().conninfo(targetDb_), slot_);
  }

  void TearDown() override {
    children_.clear();
    for (const char* ext : {".yaml", ".pgbench"}) std::remove((base_ + ext).c_str());
    if (!HasFailure()) fs::remove_all(dir_);
    test::sharedSource().dropReplicationSlot(slot_);
    test::sharedSource().dropDatabase(sourceDb_);
    test::sharedTarget().dropDatabase(targetDb_);
  }

  // Runs a program to its end; its exit status (-1 when it had to be killed).
  int runToEnd(std::vector<std::string> argv, const std::string& name,
               std::chrono::seconds timeout = 300s) {
    children_.push_back(std::make_unique<e2e::ChildProcess>(
        std::move(argv), fmt::format("{}.{}.{}", base_, name, children_.size())));
    auto& child = *children_.back();
    auto status = child.waitFor(timeout);
    if (!status) child.kill9();
    EXPECT_TRUE(status) << child.commandLine() << " did not end in time\n" << child.stderrText();
    last_ = &child;
    return status.value_or(-1);
  }

  int rehearse(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{PGMORPH_BINARY, "rehearse", "-c",     base_ + ".yaml",
                                  "--report",     dir_,       "--jobs", "2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return runToEnd(std::move(argv), "rehearse");
  }

  // Per target table, an md5 of its sorted ids: "same ids" in one value.
  std::string idsDigest() {
    return test::sharedTarget().scalar(
        targetDb_,
        "SELECT (SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM items) || ' ' || "
        "(SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM moves)");
  }

  static rapidjson::Document parse(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    EXPECT_FALSE(doc.HasParseError()) << text;
    return doc;
  }

  std::string sourceDb_, targetDb_, slot_, base_, dir_;
  std::vector<std::unique_ptr<e2e::ChildProcess>> children_;
  e2e::ChildProcess* last_ = nullptr;
};

TEST_F(RehearseEndToEndTest, TwiceGivesTheSameIdsAndVerifyAndComparesWithTheFirst) {
  // A writer through both rehearsals: the snapshot, the catch-up and verify run under load.
  children_.push_back(std::make_unique<e2e::ChildProcess>(
      std::vector<std::string>{test::pgBin("pgbench"), "-n", "-c", "2", "-T", "600", "-R", "200",
                               "-f", base_ + ".pgbench", test::sharedSource().conninfo(sourceDb_)},
      base_ + ".pgbench-run"));
  ASSERT_EQ(rehearse(), 0) << last_->stderrText();
  for (const char* f : {"report.md", "report.json", "report.html"})
    ASSERT_TRUE(fs::exists(fs::path(dir_) / f)) << f;
  auto first = parse(readFile(fs::path(dir_) / "report.json"));
  ASSERT_TRUE(first.IsObject());
  EXPECT_STREQ(first["kind"].GetString(), "rehearsal");
  std::vector<std::string> names;
  for (const auto& p : first["phases"].GetArray()) {
    names.emplace_back(p["name"].GetString());
    EXPECT_GE(p["seconds"].GetDouble(), 0) << names.back();
  }
  EXPECT_EQ(names, kPhases);
  std::set<std::pair<std::string, std::int64_t>> tables;
  for (const auto& t : first["tables"].GetArray())
    tables.emplace(t["target_table"].GetString(), t["rows"].GetInt64());
  EXPECT_EQ(tables, (std::set<std::pair<std::string, std::int64_t>>{{"public.items", 3000},
                                                                    {"public.moves", 20000}}));
  EXPECT_TRUE(first["verify"]["equal"].GetBool());
  EXPECT_TRUE(first["compared_with"].IsNull());
  EXPECT_TRUE(first["cutover_window"]["seconds"].IsNumber());
  EXPECT_GT(first["catch_up"]["changes"].GetInt64(), 0) << "the writer's changes were caught up";
  EXPECT_GE(first["catch_up"]["samples"].GetArray().Size(), 2u);
  std::string ids = idsDigest();
  ASSERT_EQ(test::sharedTarget().scalar(targetDb_, "SELECT count(*) FROM moves"), "20000");

  // Not a scratch target any more: refused, naming what holds rows.
  ASSERT_EQ(rehearse(), 2);
  EXPECT_NE(last_->stderrText().find("public.moves (20000 rows)"), std::string::npos)
      << last_->stderrText();
  EXPECT_NE(last_->stderrText().find("--reset"), std::string::npos);

  ASSERT_EQ(rehearse({"--reset"}), 0) << last_->stderrText();
  EXPECT_NE(last_->stderrText().find("--reset: deleting"), std::string::npos);
  EXPECT_EQ(idsDigest(), ids);
  auto second = parse(readFile(fs::path(dir_) / "report.json"));
  EXPECT_TRUE(second["verify"]["equal"].GetBool());
  ASSERT_TRUE(second["compared_with"].IsObject());
  EXPECT_EQ(std::string(second["compared_with"]["started_at"].GetString()),
            std::string(first["started_at"].GetString()));
  EXPECT_EQ(second["compared_with"]["phases"].GetArray().Size(), kPhases.size());
  EXPECT_EQ(second["compared_with"]["verify_changed"].GetArray().Size(), 0u);
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "report.previous.json"));
  std::string md = readFile(fs::path(dir_) / "report.md");
  for (const char* section : {"## Phases", "## Verify", "## Parked rows",
                              "## Estimated cutover window", "## Compared with the previous"})
    EXPECT_NE(md.find(section), std::string::npos) << section;
  EXPECT_NE(md.find(first["started_at"].GetString()), std::string::npos);

  // What a person sees: the page rendered by a real browser.
  ASSERT_TRUE(fs::exists("/usr/bin/chromium"))
      << "chromium is missing: run deploy/install-deps.sh (Debian package chromium)";
  ASSERT_TRUE(fs::exists("/usr/bin/pdftotext"))
      << "pdftotext is missing: run deploy/install-deps.sh (Debian package poppler-utils)";
  std::string url = "file://" + fs::absolute(fs::path(dir_) / "report.html").string();
  std::string pdf = dir_ + "/report.pdf", png = dir_ + "/report.png";
  std::vector<std::string> chromium{
      "/usr/bin/chromium", "--headless",     "--no-sandbox",
      "--disable-gpu",     "--no-first-run", "--user-data-dir=" + dir_ + "/chromium-profile"};
  auto with = [&](std::vector<std::string> extra) {
    auto argv = chromium;
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    return argv;
  };
  ASSERT_EQ(
      runToEnd(with({"--print-to-pdf=" + pdf, "--no-pdf-header-footer"}), "chromium-pdf", 120s), 0)
      << last_->stderrText();
  ASSERT_EQ(
      runToEnd(with({"--screenshot=" + png, "--window-size=1400,1800"}), "chromium-png", 120s), 0)
      << last_->stderrText();
  ASSERT_EQ(runToEnd({"/usr/bin/pdftotext", "-layout", pdf, dir_ + "/report.txt"}, "pdftotext"), 0);
  std::string seen = readFile(dir_ + "/report.txt");
  for (const auto& phase : kPhases) EXPECT_NE(seen.find(phase), std::string::npos) << phase;
  // The pictures' own text (SVG): the timeline's and the catch-up charts' axes.
  for (const char* text : {"public.items", "public.moves", "Copy time per table",
                           "lag (bytes of WAL)", "seconds since the start of the rehearsal",
                           "seconds into the catch-up", "Compared with the previous rehearsal"})
    EXPECT_NE(seen.find(text), std::string::npos) << text << "\n" << seen;
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 20'000u) << "the screenshot is nearly empty";
  if (const char* keep = std::getenv("PGMORPH_REHEARSAL_SCREENSHOT"))
    fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
}

// A target that changes a row behind pgmorph's back (an ALWAYS trigger): the rehearsal is done,
// verify finds the difference, and the exit code (1) and the reports say so.
TEST_F(RehearseEndToEndTest, ExitsOneWhenVerifyFindsADifference) {
  test::sharedTarget().psql(targetDb_, R"sql(
CREATE FUNCTION relabel() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN IF NEW.sku = 7 THEN NEW.label := 'changed on the target'; END IF; RETURN NEW; END $$;
CREATE TRIGGER relabel BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION relabel();
-- pgmorph writes with session_replication_role = replica: the trigger must fire even so.
ALTER TABLE items ENABLE ALWAYS TRIGGER relabel;
)sql");
  ASSERT_EQ(rehearse(), 1) << last_->stderrText();
  auto report = parse(readFile(fs::path(dir_) / "report.json"));
  EXPECT_FALSE(report["verify"]["equal"].GetBool());
  std::string md = readFile(fs::path(dir_) / "report.md");
  EXPECT_NE(md.find("Verify: **DIFFERENT**"), std::string::npos) << md;
  EXPECT_NE(md.find("changed on the target"), std::string::npos) << md;
}

}  // namespace
}  // namespace pgmorph
