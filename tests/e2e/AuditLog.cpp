#include "tests/e2e/AuditLog.h"

#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace pgmorph::e2e {

void AuditLog::install(PgConnection& target, const std::vector<std::string>& tables) {
  target.exec(R"(
    CREATE TABLE public.e2e_audit (
      seq   bigserial PRIMARY KEY,
      tbl   text NOT NULL,
      id    uuid NOT NULL,
      op    text NOT NULL
    );
    CREATE FUNCTION public.e2e_audit_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO public.e2e_audit (tbl, id, op)
      VALUES (TG_TABLE_NAME, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP);
      RETURN NULL;
    END
    $fn$;
  )");
  for (const auto& t : tables) {
    std::string qualified = target.quoteQualified("public", t);
    target.exec(
        fmt::format("CREATE TRIGGER e2e_audit AFTER INSERT OR UPDATE OR DELETE ON {} "
                    "FOR EACH ROW EXECUTE FUNCTION public.e2e_audit_row()",
                    qualified));
    target.exec(fmt::format("ALTER TABLE {} ENABLE ALWAYS TRIGGER e2e_audit", qualified));
  }
}

std::vector<AuditEvent> AuditLog::events(PgConnection& target, std::int64_t afterSeq) {
  std::string after = std::to_string(afterSeq);
  auto res = target.execParams(
      "SELECT tbl, id::text, op FROM public.e2e_audit WHERE seq > $1 ORDER BY seq",
      {std::optional<std::string_view>(after)});
  std::vector<AuditEvent> out;
  for (int r = 0; r < res.rows(); ++r) {
    out.push_back(AuditEvent{std::string(res.value(r, 0)), std::string(res.value(r, 1)),
                             std::string(res.value(r, 2))});
  }
  return out;
}

std::int64_t AuditLog::lastSeq(PgConnection& target) {
  auto res = target.exec("SELECT coalesce(max(seq), 0) FROM public.e2e_audit");
  return std::stoll(std::string(res.value(0, 0)));
}

}  // namespace pgmorph::e2e
