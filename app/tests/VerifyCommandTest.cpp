// `pgmorph verify` against real clusters (the shared source and target, a fresh database on
// each per test), on a small library schema of its own: lib_author (integer key, a JSON text
// profile converted to jsonb, a naive timestamp in America/New_York converted to timestamptz),
// lib_book (text key, a ref to its author, a numeric price) and lib_loan (a composite key, a
// ref to its book). Covers: an equal target exits 0; a deleted target row, one changed
// column and a stray row exit 1 and are named exactly (legacy keys, columns, both values);
// rows parked by the pipeline (a missing parent, an unconvertible value) are reported as
// parked, not as differences; source changes that were not followed yet are applied up to the
// pinned LSN by verify itself; a table whose rows all differ and an empty target keep the
// report bounded by --max-differences and say how many more there are.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "app/ConfigFile.h"
#include "app/snapshot/SnapshotCommand.h"
#include "app/verify/VerifyCommand.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

constexpr const char* kSourceSql = R"sql(
CREATE TABLE lib_author (id integer PRIMARY KEY, name text NOT NULL, profile text,
                         joined timestamp);
CREATE TABLE lib_book (code text PRIMARY KEY, author_id integer, title text,
                       price numeric(8,2));
CREATE TABLE lib_loan (book_code text, member integer, due timestamp,
                       PRIMARY KEY (book_code, member));
INSERT INTO lib_author
  SELECT g, 'author ' || g, '{"shelf": ' || g || ', "tags": ["a", "b"]}',
         timestamp '2024-03-10 01:30:00' + g * interval '1 hour'
  FROM generate_series(1, 40) g;
INSERT INTO lib_book
  SELECT 'B' || g, 1 + g % 40, 'title ' || g, g * 1.25 FROM generate_series(1, 120) g;
INSERT INTO lib_loan
  SELECT 'B' || g, 1000 + g, timestamp '2024-11-03 00:30:00' + g * interval '20 minutes'
  FROM generate_series(1, 60) g;
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE authors (id uuid PRIMARY KEY, name text NOT NULL, profile jsonb,
                      joined timestamptz, legacy_author_id integer);
CREATE TABLE books (id uuid PRIMARY KEY, author_id uuid REFERENCES authors (id), title text,
                    price numeric(8,2), legacy_code text, created timestamptz DEFAULT now());
CREATE TABLE loans (id uuid PRIMARY KEY, book_id uuid REFERENCES books (id), member integer,
                    due timestamptz);
CREATE INDEX ON books (author_id);
CREATE INDEX ON loans (book_id);
)sql";

std::string mappingYaml(const std::string& source, const std::string& target,
                        const std::string& slot) {
  return fmt::format(R"(pipeline: lib
source: {{ conninfo: "{}", slot: {}, timezone: America/New_York }}
target: {{ conninfo: "{}", state_schema: lib_state }}
ids: {{ namespace: 3f6c2b1a-9e8d-4c7b-a6f5-0e1d2c3b4a59 }}
tables:
  lib_author:
    - target: authors
      key: id
      legacy_id: legacy_author_id
      columns:
        name: name
        profile: {{ to: profile, type: jsonb }}
        joined: {{ to: joined, type: timestamptz }}
  lib_book:
    - target: books
      key: code
      legacy_id: legacy_code
      columns:
        author_id: {{ to: author_id, ref: lib_author }}
        title: title
        price: price
  lib_loan:
    - target: loans
      key: [book_code, member]
      columns:
        book_code: {{ to: book_id, ref: lib_book }}
        member: member
        due: {{ to: due, type: timestamptz }}
)",
                     source, slot, target);
}

class VerifyCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sourceDb_ = test::sharedSource().createDatabase("vf");
    targetDb_ = test::sharedTarget().createDatabase("vf");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceSql);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    path_ = fmt::format("/tmp/pgmorph-verify-{}.yaml", sourceDb_);
    std::ofstream(path_) << mappingYaml(test::sharedSource().conninfo(sourceDb_),
                                        test::sharedTarget().conninfo(targetDb_), slot_);
  }

  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
    test::sharedSource().dropReplicationSlot(slot_);
    test::sharedSource().dropDatabase(sourceDb_);
    test::sharedTarget().dropDatabase(targetDb_);
  }

  void snapshot() {
    PipelineConfig config = loadConfigFile(path_);
    SnapshotOptions options;
    options.jobs = 2;
    options.progressInterval = std::chrono::seconds(5);
    ASSERT_EQ(SnapshotCommand(config).snapshot(options), 0);
  }

  int verify(std::string& out, VerifyOptions options = {}) {
    std::ostringstream s;
    int code = VerifyCommand::run(path_, options, s);
    out = s.str();
    return code;
  }

  rapidjson::Document verifyJson(int expectedCode, VerifyOptions options = {}) {
    options.json = true;
    std::string out;
    EXPECT_EQ(verify(out, options), expectedCode) << out;
    rapidjson::Document doc;
    doc.Parse(out.c_str());
    EXPECT_FALSE(doc.HasParseError()) << out;
    json_ = out;
    return doc;
  }

  std::string target(const std::string& sql) { return test::sharedTarget().scalar(targetDb_, sql); }
  void targetSql(const std::string& sql) { test::sharedTarget().psql(targetDb_, sql); }
  void sourceSql(const std::string& sql) { test::sharedSource().psql(sourceDb_, sql); }

  std::string sourceDb_, targetDb_, slot_, path_, json_;
};

const rapidjson::Value& tableOf(const rapidjson::Document& doc, const std::string& name) {
  for (const auto& t : doc["tables"].GetArray())
    if (t["target_table"].GetString() == name) return t;
  ADD_FAILURE() << "no table " << name;
  static rapidjson::Value none;
  return none;
}

TEST_F(VerifyCommandTest, EqualTargetExitsZeroAndThreeChangesAreNamedExactly) {
  snapshot();
  std::string out;
  ASSERT_EQ(verify(out), 0) << out;
  EXPECT_NE(out.find("3 of 3 tables equal"), std::string::npos) << out;

  // One row deleted, one column of another row changed, one stray row inserted.
  const std::string strayId = "00000000-0000-4000-8000-00000000abcd";
  targetSql(
      "DELETE FROM loans WHERE member = 1007;"
      "UPDATE authors SET name = 'someone else' WHERE legacy_author_id = 12;"
      "INSERT INTO books (id, title, legacy_code) VALUES ('" +
      strayId + "', 'stray', 'B999');");
  auto doc = verifyJson(1);
  ASSERT_TRUE(doc.IsObject()) << json_;
  EXPECT_FALSE(doc["equal"].GetBool());

  const auto& loans = tableOf(doc, "public.loans");
  EXPECT_EQ(loans["missing"].GetUint64(), 1u) << json_;
  EXPECT_EQ(loans["extra"].GetUint64(), 0u);
  EXPECT_EQ(loans["different"].GetUint64(), 0u);
  ASSERT_EQ(loans["differences"].Size(), 1u) << json_;
  EXPECT_STREQ(loans["differences"][0]["kind"].GetString(), "missing");
  EXPECT_STREQ(loans["differences"][0]["source_table"].GetString(), "lib_loan");
  EXPECT_STREQ(loans["differences"][0]["legacy_key"].GetString(), "B7,1007");

  const auto& authors = tableOf(doc, "public.authors");
  EXPECT_EQ(authors["different"].GetUint64(), 1u) << json_;
  EXPECT_EQ(authors["missing"].GetUint64() + authors["extra"].GetUint64(), 0u);
  ASSERT_EQ(authors["differences"].Size(), 1u);
  const auto& changed = authors["differences"][0];
  EXPECT_STREQ(changed["kind"].GetString(), "different");
  EXPECT_STREQ(changed["legacy_key"].GetString(), "12");
  ASSERT_EQ(changed["columns"].Size(), 1u) << json_;
  EXPECT_STREQ(changed["columns"][0]["column"].GetString(), "name");
  EXPECT_STREQ(changed["columns"][0]["expected"].GetString(), "author 12");
  EXPECT_STREQ(changed["columns"][0]["actual"].GetString(), "someone else");

  const auto& books = tableOf(doc, "public.books");
  EXPECT_EQ(books["extra"].GetUint64(), 1u) << json_;
  EXPECT_EQ(books["missing"].GetUint64() + books["different"].GetUint64(), 0u);
  ASSERT_EQ(books["differences"].Size(), 1u);
  EXPECT_STREQ(books["differences"][0]["kind"].GetString(), "extra");
  EXPECT_STREQ(books["differences"][0]["id"].GetString(), strayId.c_str());
  // `created` has a default and nothing maps it: it is not compared.
  for (const auto& c : books["columns"].GetArray()) EXPECT_STRNE(c.GetString(), "created");

  // The text report says the same in sentences.
  ASSERT_EQ(verify(out), 1) << out;
  EXPECT_NE(out.find("missing    lib_loan B7,1007 -> public.loans"), std::string::npos) << out;
  EXPECT_NE(out.find("different  lib_author 12 -> public.authors"), std::string::npos) << out;
  EXPECT_NE(out.find("name: expected \"author 12\", target \"someone else\""), std::string::npos)
      << out;
  EXPECT_NE(out.find("extra      public.books " + strayId), std::string::npos) << out;
  EXPECT_NE(out.find("(legacy_code = B999)"), std::string::npos) << out;
  EXPECT_NE(out.find("0 of 3 tables equal"), std::string::npos) << out;
}

TEST_F(VerifyCommandTest, ParkedRowsAreReportedAsParkedNotAsDifferences) {
  // A book of an author that does not exist (parked: missing parent), and an author whose
  // profile is not JSON (parked: unconvertible).
  sourceSql(
      "INSERT INTO lib_book VALUES ('B500', 999, 'orphan', 1);"
      "INSERT INTO lib_author VALUES (41, 'bad json', '{not json', NULL);");
  snapshot();
  ASSERT_EQ(target("SELECT count(*) FROM lib_state.parked"), "2");
  auto doc = verifyJson(0);
  ASSERT_TRUE(doc.IsObject()) << json_;
  const auto& books = tableOf(doc, "public.books");
  EXPECT_EQ(books["parked"].GetUint64(), 1u) << json_;
  EXPECT_EQ(books["missing"].GetUint64(), 0u);
  ASSERT_EQ(books["differences"].Size(), 1u);
  EXPECT_STREQ(books["differences"][0]["kind"].GetString(), "parked");
  EXPECT_STREQ(books["differences"][0]["legacy_key"].GetString(), "B500");
  const auto& authors = tableOf(doc, "public.authors");
  EXPECT_EQ(authors["unconvertible"].GetUint64(), 1u) << json_;
  EXPECT_EQ(authors["missing"].GetUint64(), 0u);
  EXPECT_TRUE(authors["equal"].GetBool());
}

TEST_F(VerifyCommandTest, ChangesNotYetFollowedAreAppliedUpToThePinnedPosition) {
  snapshot();
  sourceSql(
      "INSERT INTO lib_author VALUES (77, 'late', '{}', '2024-06-01 12:00');"
      "UPDATE lib_book SET title = 'retitled' WHERE code = 'B3';"
      "DELETE FROM lib_loan WHERE member = 1010;");
  std::string out;
  ASSERT_EQ(verify(out), 0) << out;
  EXPECT_NE(out.find("applied by verify"), std::string::npos) << out;
  EXPECT_EQ(target("SELECT title FROM books WHERE legacy_code = 'B3'"), "retitled");
  EXPECT_EQ(target("SELECT count(*) FROM loans WHERE member = 1010"), "0");
}

TEST_F(VerifyCommandTest, ManyDifferencesKeepTheReportBounded) {
  snapshot();
  targetSql("UPDATE books SET price = price + 1; DELETE FROM loans;");
  VerifyOptions options;
  options.maxDifferences = 3;
  auto doc = verifyJson(1, options);
  ASSERT_TRUE(doc.IsObject()) << json_;
  const auto& books = tableOf(doc, "public.books");
  EXPECT_EQ(books["different"].GetUint64(), 120u) << json_;
  EXPECT_EQ(books["differences"].Size(), 3u);
  const auto& loans = tableOf(doc, "public.loans");
  EXPECT_EQ(loans["missing"].GetUint64(), 60u);
  EXPECT_EQ(loans["target_rows"].GetUint64(), 0u);
  EXPECT_EQ(loans["differences"].Size(), 3u);
  std::string out;
  ASSERT_EQ(verify(out, options), 1);
  EXPECT_NE(out.find("... and 117 more (--max-differences 3)"), std::string::npos) << out;
  EXPECT_NE(out.find("... and 57 more (--max-differences 3)"), std::string::npos) << out;
}

TEST_F(VerifyCommandTest, NothingAppliedYetIsExitTwo) {
  std::string out;
  EXPECT_EQ(verify(out), 2) << out;
  EXPECT_NE(out.find("nothing has been applied"), std::string::npos) << out;
}

}  // namespace
}  // namespace pgmorph
