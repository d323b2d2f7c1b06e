#include "tests/e2e/ParkingExpectation.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>

namespace pgmorph::e2e {

namespace {

// profiles.email's CHECK in target.sql.
constexpr const char* kEmailCheck = R"('^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$')";

void defineJsonCheck(PgConnection& source) {
  source.exec(
      "CREATE OR REPLACE FUNCTION pg_temp.json_ok(t text) RETURNS boolean LANGUAGE plpgsql AS $$"
      " BEGIN PERFORM t::jsonb; RETURN true; EXCEPTION WHEN others THEN RETURN false; END $$");
}

std::vector<std::string> rowsOf(const PgResult& res) {
  std::vector<std::string> out;
  for (int r = 0; r < res.rows(); ++r) {
    std::string line;
    for (int c = 0; c < res.columns(); ++c) {
      if (c) line += '|';
      line += res.isNull(r, c) ? std::string("-") : std::string(res.value(r, c));
    }
    out.push_back(std::move(line));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

ParkingExpectation::ParkingExpectation(PgConnection& source, const std::string& idNamespace)
    : source_(source) {
  defineJsonCheck(source);
  source.exec(
      "DROP TABLE IF EXISTS pg_temp.bad_user, pg_temp.parked_doctor, "
      "pg_temp.expected_parked");
  source.exec(
      fmt::format("CREATE TEMP TABLE bad_user AS SELECT id FROM dispatch_user"
                  " WHERE email IS NOT NULL AND email !~ {}",
                  kEmailCheck));
  source.exec(
      "CREATE TEMP TABLE parked_doctor AS SELECT id, user_id FROM dispatch_doctor"
      " WHERE user_id IN (SELECT id FROM bad_user)"
      "    OR user_id NOT IN (SELECT id FROM dispatch_user)");
  source.exec(
      "CREATE TEMP TABLE expected_parked (kind text, target_table text, legacy_key text,"
      " row_id uuid, missing_table text, missing_id uuid, missing_column text)");
  const char* inserts[] = {
      // The target refuses these users (CHECK on the e-mail).
      R"(INSERT INTO expected_parked
         SELECT 'refused', 'public.profiles', u.id::text,
                uuid_generate_v5($1::uuid, 'dispatch_user:' || u.id), NULL, NULL, NULL
         FROM bad_user u)",
      // Their doctors wait for them.
      R"(INSERT INTO expected_parked
         SELECT 'missing_parent', 'public.doctors', d.id::text,
                uuid_generate_v5($1::uuid, 'dispatch_doctor:' || d.id), 'public.profiles',
                uuid_generate_v5($1::uuid, 'dispatch_user:' || d.user_id), 'profile_id'
         FROM parked_doctor d)",
      // Patients and orders of those doctors: doctor_id NULL for now (on_missing: null).
      R"(INSERT INTO expected_parked
         SELECT 'null_reference', 'public.patients', p.id::text,
                uuid_generate_v5($1::uuid, 'dispatch_patient:' || p.id), 'public.doctors',
                uuid_generate_v5($1::uuid, 'dispatch_doctor:' || p.doctor_id), 'doctor_id'
         FROM dispatch_patient p WHERE p.doctor_id IN (SELECT id FROM parked_doctor))",
      R"(INSERT INTO expected_parked
         SELECT 'null_reference', 'public.orders', i.id::text,
                uuid_generate_v5($1::uuid, 'dispatch_instruction:' || i.id), 'public.doctors',
                uuid_generate_v5($1::uuid, 'dispatch_doctor:' || i.doctor_id), 'doctor_id'
         FROM dispatch_instruction i WHERE i.doctor_id IN (SELECT id FROM parked_doctor))",
      // Notifications whose context is not JSON cannot be converted at all.
      R"(INSERT INTO expected_parked
         SELECT 'unconvertible', 'public.system_messages', n.id::text,
                uuid_generate_v5($1::uuid, 'dispatch_notification:' || n.id), NULL, NULL, NULL
         FROM dispatch_notification n
         WHERE n.template_context IS NOT NULL AND NOT pg_temp.json_ok(n.template_context))",
      // The others wait for a recipient that is missing or refused.
      R"(INSERT INTO expected_parked
         SELECT 'missing_parent', 'public.system_messages', n.id::text,
                uuid_generate_v5($1::uuid, 'dispatch_notification:' || n.id), 'public.profiles',
                uuid_generate_v5($1::uuid, 'dispatch_user:' || n.recipient_id), 'recipient_id'
         FROM dispatch_notification n
         WHERE (n.template_context IS NULL OR pg_temp.json_ok(n.template_context))
           AND n.recipient_id IS NOT NULL
           AND (n.recipient_id IN (SELECT id FROM bad_user)
                OR NOT EXISTS (SELECT 1 FROM dispatch_user u WHERE u.id = n.recipient_id)))",
  };
  for (const char* sql : inserts)
    source.execParams(sql, {std::optional<std::string_view>(idNamespace)});
  source.exec("ANALYZE expected_parked");
  expected_ = rowsOf(source.exec(
      "SELECT kind, target_table, legacy_key, missing_table, missing_id FROM expected_parked"));
  auto nulled = source.exec(
      "SELECT DISTINCT target_table, missing_column FROM expected_parked"
      " WHERE kind = 'null_reference'");
  for (int r = 0; r < nulled.rows(); ++r)
    nulled_.emplace_back(std::string(nulled.value(r, 0)), std::string(nulled.value(r, 1)));
}

std::vector<std::string> ParkingExpectation::actual(PgConnection& target,
                                                    const std::string& stateSchema,
                                                    const std::string& pipeline) {
  return rowsOf(target.execParams(
      fmt::format("SELECT kind, target_table, legacy_key, missing_table, missing_id FROM {}"
                  " WHERE pipeline = $1",
                  target.quoteQualified(stateSchema, "parked")),
      {std::optional<std::string_view>(pipeline)}));
}

std::string ParkingExpectation::difference(const std::vector<std::string>& expected,
                                           const std::vector<std::string>& actual,
                                           std::size_t max) {
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(),
                      std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  if (missing.empty() && extra.empty()) return "";
  std::string out = fmt::format(
      "{} expected parked rows are not parked, {} parked rows are not "
      "expected (kind|target|legacy key|missing table|missing id)\n",
      missing.size(), extra.size());
  for (std::size_t i = 0; i < missing.size() && i < max; ++i)
    out += "  not parked:   " + missing[i] + "\n";
  for (std::size_t i = 0; i < extra.size() && i < max; ++i)
    out += "  not expected: " + extra[i] + "\n";
  return out;
}

std::vector<TableProjection> ParkingExpectation::projection() const {
  std::vector<TableProjection> out;
  for (const TableProjection& t : dispatchProjection()) {
    std::string qualified = "public." + t.table;
    std::string aliases, select;
    for (const std::string& c : t.columns) {
      std::string q = source_.quoteIdent(c);
      if (!aliases.empty()) {
        aliases += ", ";
        select += ", ";
      }
      aliases += q;
      bool nulled =
          std::find(nulled_.begin(), nulled_.end(), std::make_pair(qualified, c)) != nulled_.end();
      if (nulled)
        select += fmt::format(
            "CASE WHEN EXISTS (SELECT 1 FROM expected_parked e WHERE e.kind = 'null_reference'"
            " AND e.target_table = '{}' AND e.row_id = p.id AND e.missing_column = '{}')"
            " THEN NULL ELSE p.{} END",
            qualified, c, q);
      else
        select += "p." + q;
    }
    TableProjection adjusted = t;
    // Rows expected parked are left out before anything of theirs is computed (a malformed
    // context would fail its ::jsonb cast).
    adjusted.sourceQuery = fmt::format(
        "SELECT {} FROM ({}) AS p({}) WHERE NOT EXISTS (SELECT 1 FROM expected_parked e"
        " WHERE e.kind <> 'null_reference' AND e.target_table = '{}' AND e.row_id = p.id)",
        select, t.sourceQuery, aliases, qualified);
    out.push_back(std::move(adjusted));
  }
  return out;
}

void ParkingExpectation::fixSource(PgConnection& source) {
  defineJsonCheck(source);
  source.exec(
      "INSERT INTO dispatch_user (id, email, first_name, last_name, office_id, is_active,"
      " date_joined)"
      " SELECT DISTINCT n.recipient_id, 'found' || n.recipient_id || '@example.com', 'Found',"
      "        'Recipient', NULL::integer, 1, timestamp '2021-01-01 00:00:00'"
      " FROM dispatch_notification n WHERE n.recipient_id IS NOT NULL"
      "   AND NOT EXISTS (SELECT 1 FROM dispatch_user u WHERE u.id = n.recipient_id)");
  source.exec(
      fmt::format("UPDATE dispatch_user SET email = 'fixed' || id || '@example.com'"
                  " WHERE email !~ {}",
                  kEmailCheck));
  source.exec(
      "UPDATE dispatch_notification SET template_context = '{\"fixed\": true}'"
      " WHERE template_context IS NOT NULL AND NOT pg_temp.json_ok(template_context)");
}

}  // namespace pgmorph::e2e
