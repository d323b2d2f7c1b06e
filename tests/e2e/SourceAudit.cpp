#include "tests/e2e/SourceAudit.h"

#include <fmt/format.h>

namespace pgmorph::e2e {

void SourceAudit::install(PgConnection& source, const std::vector<std::string>& tables) {
  source.exec(R"(
    CREATE SCHEMA e2e_audit;
    CREATE TABLE e2e_audit.events (
      seq        bigserial PRIMARY KEY,
      tbl        text NOT NULL,
      legacy_id  bigint NOT NULL,
      op         text NOT NULL
    );
    CREATE FUNCTION e2e_audit.record_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO e2e_audit.events (tbl, legacy_id, op)
      VALUES (TG_TABLE_NAME, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP);
      RETURN NULL;
    END
    $fn$;
  )");
  for (const auto& t : tables) {
    source.exec(
        fmt::format("CREATE TRIGGER e2e_audit AFTER INSERT OR UPDATE OR DELETE ON {} "
                    "FOR EACH ROW EXECUTE FUNCTION e2e_audit.record_row()",
                    source.quoteQualified("public", t)));
  }
}

}  // namespace pgmorph::e2e
