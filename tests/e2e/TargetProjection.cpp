#include "tests/e2e/TargetProjection.h"

namespace pgmorph::e2e {

namespace {

// uuid_generate_v5 is STRICT: a NULL legacy reference gives a NULL UUID, which is what
// `on_missing: null` refs and nullable refs must produce (the source's own foreign keys
// guarantee the parent exists, so the parent is on the target too).
std::vector<TableProjection> build() {
  return {
      {"offices",
       {"id", "name", "address", "country_code", "created_at", "legacy_office_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_office:' || o.id),
                 o.name, o.address, o.country,
                 o.created_at AT TIME ZONE 'UTC',
                 o.id
          FROM dispatch_office o)"},
      {"profiles",
       {"id", "email", "first_name", "last_name", "office_id", "is_active", "joined_at",
        "legacy_user_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_user:' || u.id),
                 u.email, u.first_name, u.last_name,
                 uuid_generate_v5($1::uuid, 'dispatch_office:' || u.office_id),
                 u.is_active = 1,
                 u.date_joined AT TIME ZONE 'UTC',
                 u.id
          FROM dispatch_user u)"},
      {"doctors",
       {"id", "profile_id", "office_id", "license_number", "legacy_doctor_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_doctor:' || d.id),
                 uuid_generate_v5($1::uuid, 'dispatch_user:' || d.user_id),
                 uuid_generate_v5($1::uuid, 'dispatch_office:' || d.office_id),
                 d.license_no,
                 d.id
          FROM dispatch_doctor d)"},
      {"patients",
       {"id", "doctor_id", "office_id", "first_name", "last_name", "birth_date", "suffix",
        "legacy_patient_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_patient:' || p.id),
                 uuid_generate_v5($1::uuid, 'dispatch_doctor:' || p.doctor_id),
                 uuid_generate_v5($1::uuid, 'dispatch_office:' || p.office_id),
                 p.first_name, p.last_name, p.birth_date, p.suffix,
                 p.id
          FROM dispatch_patient p)"},
      {"orders",
       {"id", "patient_id", "doctor_id", "status", "price", "notes", "submitted_at", "created_at",
        "legacy_instruction_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_instruction:' || i.id),
                 uuid_generate_v5($1::uuid, 'dispatch_patient:' || i.patient_id),
                 uuid_generate_v5($1::uuid, 'dispatch_doctor:' || i.doctor_id),
                 CASE i.status WHEN 0 THEN 'draft' WHEN 1 THEN 'submitted'
                               WHEN 2 THEN 'in_production' WHEN 3 THEN 'shipped'
                               WHEN 4 THEN 'cancelled' END,
                 i.price, i.notes,
                 i.submitted_at AT TIME ZONE 'UTC',
                 i.created_at AT TIME ZONE 'UTC',
                 i.id
          FROM dispatch_instruction i)"},
      // A jaw belongs to the order that names it in upper_jaw_id or lower_jaw_id, and its
      // type is which of the two names it; a jaw no order names has neither. A jaw named
      // twice would be ambiguous: the union then yields two rows with the same id, which
      // the comparison reports as a duplicate rather than guessing.
      {"jaws",
       {"id", "order_id", "jaw_type", "scan_file", "created_at", "legacy_jaw_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_jaw:' || j.id),
                 uuid_generate_v5($1::uuid, 'dispatch_instruction:' || named.instruction_id),
                 named.jaw_type,
                 j.scan_file,
                 j.created_at AT TIME ZONE 'UTC',
                 j.id
          FROM dispatch_jaw j
          LEFT JOIN (SELECT upper_jaw_id AS jaw_id, id AS instruction_id, 'upper' AS jaw_type
                       FROM dispatch_instruction WHERE upper_jaw_id IS NOT NULL
                     UNION ALL
                     SELECT lower_jaw_id, id, 'lower'
                       FROM dispatch_instruction WHERE lower_jaw_id IS NOT NULL) named
                 ON named.jaw_id = j.id)"},
      {"case_files",
       {"id", "order_id", "file_name", "size_bytes", "uploaded_at", "legacy_file_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_file:' || f.id),
                 uuid_generate_v5($1::uuid, 'dispatch_instruction:' || f.instruction_id),
                 f.name, f.size,
                 f.created_at AT TIME ZONE 'UTC',
                 f.id
          FROM dispatch_file f)"},
      {"system_messages",
       {"id", "recipient_id", "template", "context", "is_read", "created_at",
        "legacy_notification_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_notification:' || n.id),
                 uuid_generate_v5($1::uuid, 'dispatch_user:' || n.recipient_id),
                 n.template,
                 n.template_context::jsonb,
                 n.is_read = 1,
                 n.created_at AT TIME ZONE 'UTC',
                 n.id
          FROM dispatch_notification n)"},
      {"payments",
       {"id", "order_id", "amount", "payment_method", "payment_status", "paid_at",
        "legacy_payment_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_payment:' || p.id),
                 uuid_generate_v5($1::uuid, 'dispatch_instruction:' || p.instruction_id),
                 p.amount,
                 coalesce(p.method, 'unknown'),
                 'completed',
                 p.paid_at AT TIME ZONE 'UTC',
                 p.id
          FROM dispatch_payment p)"},
      {"case_states",
       {"id", "patient_id", "state", "changed_at", "legacy_state_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_state:' || s.id),
                 uuid_generate_v5($1::uuid, 'dispatch_patient:' || s.patient_id),
                 s.state,
                 s.changed_at AT TIME ZONE 'UTC',
                 s.id
          FROM dispatch_state s WHERE s.kind = 'case')"},
      {"order_states",
       {"id", "order_id", "state", "changed_at", "legacy_state_id"},
       R"(SELECT uuid_generate_v5($1::uuid, 'dispatch_state:' || s.id),
                 uuid_generate_v5($1::uuid, 'dispatch_instruction:' || s.instruction_id),
                 s.state,
                 s.changed_at AT TIME ZONE 'UTC',
                 s.id
          FROM dispatch_state s WHERE s.kind = 'order')"},
  };
}

}  // namespace

const std::vector<TableProjection>& dispatchProjection() {
  static const std::vector<TableProjection> tables = build();
  return tables;
}

}  // namespace pgmorph::e2e
