// The rehearsal report's pure parts: the cutover window's arithmetic, the comparison with a
// previous report.json (phases slower/faster beyond ±10 %, tables whose verify result changed),
// and the HTML being self-contained (no script, no fetched resource) with every phase drawn.
#include <gtest/gtest.h>

#include "app/rehearse/ReportCompare.h"
#include "app/rehearse/ReportWriters.h"

namespace pgmorph {
namespace {

using namespace std::chrono_literals;

RehearsalReport sample() {
  RehearsalReport r;
  r.pipeline = "p";
  r.started = std::chrono::system_clock::time_point(1'700'000'000s);
  Phase::Time t = r.started;
  for (auto [name, secs] : std::vector<std::pair<const char*, int>>{
           {"slot creation", 1}, {"copy", 20}, {"catch-up", 5}, {"verify", 4}}) {
    r.phases.push_back({name, t, t + std::chrono::seconds(secs), {}});
    t += std::chrono::seconds(secs);
  }
  r.finished = t;
  r.tables.push_back({"public.items", {"public.inv_item"}, 1000, 2.0});
  TableResult items;
  items.targetTable = "public.items";
  TableResult moves;
  moves.targetTable = "public.moves";
  moves.missing = 3;
  r.verify.tables = {items, moves};
  r.verifyJson = "{\"equal\":false}";
  r.samples = {{0.5, 1000, 10}, {1.5, 10, 20}};
  return r;
}

TEST(RehearsalReportTest, WindowIsTheDrainPlusVerifyPlusOverhead) {
  CutoverWindow w;
  w.writeRate = 100;
  w.applyRate = 400;
  w.catchUpSeconds = 20;
  w.verifySeconds = 7;
  w.overheadSeconds = 10;
  estimateWindow(w);
  ASSERT_TRUE(w.seconds);
  EXPECT_DOUBLE_EQ(*w.seconds, 100.0 * 20 / 400 + 7 + 10);
  w.applyRate = 90;  // slower than the writes: it never catches up
  estimateWindow(w);
  EXPECT_FALSE(w.seconds);
}

TEST(RehearsalReportTest, ComparesPhasesAndVerifyWithThePreviousReport) {
  const char* previous = R"({"kind":"rehearsal","started_at":"2026-01-01T00:00:00.000Z",
    "phases":[{"name":"slot creation","seconds":1.05},{"name":"copy","seconds":10},
              {"name":"catch-up","seconds":50}],
    "verify":{"tables":[{"target_table":"public.items","equal":true},
                        {"target_table":"public.moves","equal":true},
                        {"target_table":"public.gone","equal":true}]}})";
  auto c = compareWithPrevious(previous, "dir/report.previous.json", sample());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->startedAt, "2026-01-01T00:00:00.000Z");
  ASSERT_EQ(c->phases.size(), 4u);
  EXPECT_EQ(c->phases[0].verdict, "same");    // 1.05 s -> 1 s
  EXPECT_EQ(c->phases[1].verdict, "slower");  // 10 s -> 20 s
  EXPECT_DOUBLE_EQ(*c->phases[1].changePercent, 100);
  EXPECT_EQ(c->phases[2].verdict, "faster");  // 50 s -> 5 s
  EXPECT_EQ(c->phases[3].verdict, "new");
  ASSERT_EQ(c->verifyChanged.size(), 2u);
  EXPECT_EQ(c->verifyChanged[0].targetTable, "public.gone");
  EXPECT_EQ(c->verifyChanged[0].now, "absent");
  EXPECT_EQ(c->verifyChanged[1].targetTable, "public.moves");
  EXPECT_EQ(c->verifyChanged[1].previous, "equal");
  EXPECT_EQ(c->verifyChanged[1].now, "different");
  EXPECT_FALSE(compareWithPrevious("not json", "x", sample()));
}

TEST(RehearsalReportTest, HtmlIsSelfContainedAndShowsEveryPhase) {
  std::string html = reportHtml(sample());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"),
            html.find("http://www.w3.org/2000/svg"));  // the SVG namespace only
  EXPECT_EQ(html.find("https://"), std::string::npos);
  for (const char* name : {"slot creation", "copy", "catch-up", "verify", "public.items"})
    EXPECT_NE(html.find(std::string(">") + name + "<"), std::string::npos) << name;
  std::string json = reportJson(sample());
  EXPECT_NE(json.find("\"verify\": {\"equal\":false}"), std::string::npos) << json;
  std::string md = reportMarkdown(sample());
  for (const char* section :
       {"## Phases", "## Verify", "## Parked rows", "## Estimated cutover window"})
    EXPECT_NE(md.find(section), std::string::npos) << section;
}

}  // namespace
}  // namespace pgmorph
