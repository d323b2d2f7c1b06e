-- tests/workload/oltp.sql — a pgbench custom script: the live OLTP mix of the legacy dispatch
-- application, run against the SOURCE schema (deploy/examples/dispatch/source.sql) loaded with
-- sample-data.sql at the same scale.
--
--   pgbench -n -c 2 -T 60 -f tests/workload/oltp.sql [-D scale=N] [-R TPS] "<source conninfo>"
--
-- Each pgbench transaction draws ONE operation (weights in percent below) and runs it as one
-- source transaction. Nothing here may fail: pgbench aborts a client on the first error, and the
-- e2e tests need a clean stream. The rules that keep it so:
--   * Ids of the sample data are referenced within their ranges for the given scale
--     (users 1..400s, doctors 1..60s, patients 1..800s, instructions 1..1000s); rows of those
--     ranges are never deleted, so references to them always hold.
--   * Only instructions created by this workload (id > 1000s) are deleted. The only rows that
--     point at such an instruction are made by the transaction that created it (its files, its
--     first state, its payment); every other insert or update points into the sample range. So
--     a delete never races an insert that references its victim.
--   * Two clients never lock the same rows in opposite orders: the only multi-row transactions
--     (new order, delete order) touch rows no other transaction locks, apart from the victim,
--     which is taken first with FOR UPDATE SKIP LOCKED.
--   * Values stay valid for the TARGET too (clean data): notification contexts are valid JSON,
--     recipients exist, e-mails pass the target's format check, a state of kind 'case' has a
--     patient and one of kind 'order' has an instruction.
-- Variables are cast where they are used, so -M simple, extended and prepared all work.

\set s :scale
\set n_users 400 * :s
\set n_doctors 60 * :s
\set n_patients 800 * :s
\set n_base_instructions 1000 * :s
\set op random(1, 100)
\set r random(1, 1000000000)
\set patient random(1, :n_patients)
\set doctor random(1, :n_doctors)
\set user random(1, :n_users)
\set base_instruction random(1, :n_base_instructions)

\if :op <= 10
-- new order (10%): two new jaws, the instruction naming them, two files, its first state and,
-- half of the time, a payment. Statement order is the application's: parents first.
BEGIN;
INSERT INTO dispatch_jaw (scan_file) VALUES ('wl_' || :r::bigint || '_upper.stl') RETURNING id AS upper_jaw \gset
INSERT INTO dispatch_jaw (scan_file) VALUES ('wl_' || :r::bigint || '_lower.stl') RETURNING id AS lower_jaw \gset
INSERT INTO dispatch_instruction (patient_id, doctor_id, upper_jaw_id, lower_jaw_id, status, price, notes)
VALUES (:patient::int,
        CASE WHEN :r::bigint % 19 = 0 THEN NULL ELSE :doctor::int END,
        :upper_jaw::int, :lower_jaw::int, 0,
        round(((100 + :r::bigint % 5000) / 3.0)::numeric, 2),
        CASE WHEN :r::bigint % 10 = 0
             -- > 2 kB of poorly compressible text: stored out of line (TOAST), so later updates
             -- that leave it alone exercise wal2json's "unchanged TOAST value omitted" case.
             THEN (SELECT string_agg(md5((:r::bigint + g)::text), ' ') FROM generate_series(1, 80) g)
             ELSE 'workload note ' || :r::bigint END)
RETURNING id AS new_instruction \gset
INSERT INTO dispatch_file (instruction_id, name, size)
VALUES (:new_instruction::int, :new_instruction::int || '_upper_scan.stl', 1000 + :r::bigint % 9000000),
       (:new_instruction::int, :new_instruction::int || '_lower_scan.stl', 2000 + :r::bigint % 7000000);
INSERT INTO dispatch_state (kind, patient_id, instruction_id, state)
VALUES ('order', :patient::int, :new_instruction::int, 'new');
INSERT INTO dispatch_payment (instruction_id, amount, method, paid_at)
SELECT :new_instruction::int, round(((50 + :r::bigint % 3000) / 7.0)::numeric, 2), 'card', now()
WHERE :r::bigint % 2 = 0;
END;

\elif :op <= 28
-- status change of any order (18%), sample or workload; a deleted id simply updates nothing.
SELECT max(id) AS max_instruction FROM dispatch_instruction \gset
\set instruction random(1, :max_instruction)
\set status random(0, 4)
UPDATE dispatch_instruction
   SET status = :status::smallint,
       submitted_at = CASE WHEN :status::int >= 1 THEN coalesce(submitted_at, now()) ELSE submitted_at END
 WHERE id = :instruction::int;

\elif :op <= 34
-- the lab swapped the jaws of an order (6%): upper becomes lower and back.
SELECT max(id) AS max_instruction FROM dispatch_instruction \gset
\set instruction random(1, :max_instruction)
UPDATE dispatch_instruction
   SET upper_jaw_id = lower_jaw_id, lower_jaw_id = upper_jaw_id
 WHERE id = :instruction::int;

\elif :op <= 37
-- clinical notes rewritten (3%), sometimes long enough to be TOASTed.
SELECT max(id) AS max_instruction FROM dispatch_instruction \gset
\set instruction random(1, :max_instruction)
UPDATE dispatch_instruction
   SET notes = CASE WHEN :r::bigint % 3 = 0
                    THEN (SELECT string_agg(md5((:r::bigint - g)::text), ' ') FROM generate_series(1, 80) g)
                    ELSE 'edited note ' || :r::bigint END
 WHERE id = :instruction::int;

\elif :op <= 51
-- notification to an existing user (14%), with a valid JSON context.
INSERT INTO dispatch_notification (recipient_id, template, template_context)
VALUES (:user::int,
        (ARRAY['order_shipped', 'payment_received', 'comment_added', 'state_changed'])[1 + :r::bigint % 4],
        json_build_object('order', :base_instruction::int, 'by', 'user' || :user::int,
                          'tags', json_build_array('live', :r::bigint % 7))::text);

\elif :op <= 56
-- notification read (5%).
SELECT max(id) AS max_notification FROM dispatch_notification \gset
\set notification random(1, :max_notification)
UPDATE dispatch_notification SET is_read = 1 WHERE id = :notification::bigint;

\elif :op <= 63
-- payment of a sample order (7%); a quarter have no method, as old rows do.
INSERT INTO dispatch_payment (instruction_id, amount, method, paid_at)
VALUES (:base_instruction::int, round(((50 + :r::bigint % 3000) / 7.0)::numeric, 2),
        (ARRAY['card', 'wire', 'check', NULL])[1 + :r::bigint % 4], now());

\elif :op <= 70
-- patient record edited (7%).
UPDATE dispatch_patient
   SET last_name = 'Ient' || id || '-' || :r::bigint % 100,
       suffix = upper(substr(md5(:r::bigint::text), 1, 4)),
       birth_date = date '1960-01-01' + (:r::bigint % 20000)::int
 WHERE id = :patient::int;

\elif :op <= 74
-- file uploaded to a sample order (4%).
INSERT INTO dispatch_file (instruction_id, name, size)
VALUES (:base_instruction::int, 'upload_' || :r::bigint || '.stl', 1000 + :r::bigint % 9000000);

\elif :op <= 78
-- file deleted (4%); an id already gone deletes nothing.
SELECT max(id) AS max_file FROM dispatch_file \gset
\set file random(1, :max_file)
DELETE FROM dispatch_file WHERE id = :file::int;

\elif :op <= 85
-- workflow state recorded (7%): a case state names its patient, an order state its instruction.
INSERT INTO dispatch_state (kind, patient_id, instruction_id, state)
SELECT CASE WHEN :r::bigint % 2 = 0 THEN 'case' ELSE 'order' END,
       CASE WHEN :r::bigint % 2 = 0 OR :r::bigint % 3 = 0 THEN :patient::int END,
       CASE WHEN :r::bigint % 2 = 1 OR :r::bigint % 3 = 0 THEN :base_instruction::int END,
       (ARRAY['new', 'in_review', 'approved', 'closed'])[1 + :r::bigint % 4];

\elif :op <= 90
-- a state moves between case and order (5%). Both references are filled when missing, so the
-- row stays valid for either target table; existing references are kept (an order state of a
-- workload order keeps pointing at it, and its deletion removes it).
SELECT max(id) AS max_state FROM dispatch_state \gset
\set state random(1, :max_state)
UPDATE dispatch_state
   SET kind = CASE WHEN kind = 'case' THEN 'order' ELSE 'case' END,
       patient_id = coalesce(patient_id, :patient::int),
       instruction_id = coalesce(instruction_id, :base_instruction::int),
       changed_at = now()
 WHERE id = :state::int;

\elif :op <= 94
-- the oldest order created by the workload is purged (4%): children first, jaws stay.
BEGIN;
SELECT coalesce(max(id), 0) AS victim
  FROM (SELECT id FROM dispatch_instruction WHERE id > :n_base_instructions::int
         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) oldest \gset
DELETE FROM dispatch_state WHERE instruction_id = :victim::int;
DELETE FROM dispatch_payment WHERE instruction_id = :victim::int;
DELETE FROM dispatch_file WHERE instruction_id = :victim::int;
DELETE FROM dispatch_instruction WHERE id = :victim::int;
END;

\else
-- a user changes e-mail (6%), always to a valid address.
UPDATE dispatch_user
   SET email = 'user' || id || '.' || :r::bigint % 1000 || '@example.org'
 WHERE id = :user::int;
\endif
