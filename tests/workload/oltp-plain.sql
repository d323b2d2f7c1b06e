-- tests/workload/oltp-plain.sql — the same OLTP mix as oltp.sql, for when pgbench is not at
-- hand: plain psql, one client, a fixed number of operations, one source transaction each.
--
--   psql -X -v ON_ERROR_STOP=1 -v scale=1 -v rounds=500 [-v seed=0.5] -f tests/workload/oltp-plain.sql "<source conninfo>"
--
-- Same weights, same rules as oltp.sql (read its header): sample rows are referenced within the
-- ranges of the given scale and never deleted; only orders made by a workload are purged.
-- With the same seed and the same starting data it makes the same changes, timestamps aside.
-- Must run outside a transaction block: the DO block commits after every operation.

\if :{?scale}
\else
  \set scale 1
\endif
\if :{?rounds}
\else
  \set rounds 500
\endif
\if :{?seed}
\else
  \set seed 0.5
\endif

-- psql does not expand variables inside the DO body: hand them over as settings.
SELECT set_config('pgmorph_workload.scale', :'scale', false),
       set_config('pgmorph_workload.rounds', :'rounds', false),
       setseed(:seed) \g /dev/null

DO $workload$
DECLARE
  s int := current_setting('pgmorph_workload.scale')::int;
  rounds int := current_setting('pgmorph_workload.rounds')::int;
  base int := 1000 * s;
  op int; r bigint; patient int; doctor int; usr int; base_instr int;
  upper_jaw int; lower_jaw int; new_instr int; victim int; target_id bigint; st int;
BEGIN
  FOR i IN 1 .. rounds LOOP
    op := 1 + floor(random() * 100)::int;
    r := 1 + floor(random() * 1000000000)::bigint;
    patient := 1 + floor(random() * 800 * s)::int;
    doctor := 1 + floor(random() * 60 * s)::int;
    usr := 1 + floor(random() * 400 * s)::int;
    base_instr := 1 + floor(random() * base)::int;

    IF op <= 10 THEN  -- new order
      INSERT INTO dispatch_jaw (scan_file) VALUES ('wl_' || r || '_upper.stl') RETURNING id INTO upper_jaw;
      INSERT INTO dispatch_jaw (scan_file) VALUES ('wl_' || r || '_lower.stl') RETURNING id INTO lower_jaw;
      INSERT INTO dispatch_instruction (patient_id, doctor_id, upper_jaw_id, lower_jaw_id, status, price, notes)
      VALUES (patient, CASE WHEN r % 19 = 0 THEN NULL ELSE doctor END, upper_jaw, lower_jaw, 0,
              round(((100 + r % 5000) / 3.0)::numeric, 2),
              CASE WHEN r % 10 = 0
                   THEN (SELECT string_agg(md5((r + g)::text), ' ') FROM generate_series(1, 80) g)
                   ELSE 'workload note ' || r END)
      RETURNING id INTO new_instr;
      INSERT INTO dispatch_file (instruction_id, name, size)
      VALUES (new_instr, new_instr || '_upper_scan.stl', 1000 + r % 9000000),
             (new_instr, new_instr || '_lower_scan.stl', 2000 + r % 7000000);
      INSERT INTO dispatch_state (kind, patient_id, instruction_id, state)
      VALUES ('order', patient, new_instr, 'new');
      IF r % 2 = 0 THEN
        INSERT INTO dispatch_payment (instruction_id, amount, method, paid_at)
        VALUES (new_instr, round(((50 + r % 3000) / 7.0)::numeric, 2), 'card', now());
      END IF;
    ELSIF op <= 28 THEN  -- status change
      target_id := 1 + floor(random() * (SELECT max(id) FROM dispatch_instruction))::int;
      st := floor(random() * 5)::int;
      UPDATE dispatch_instruction
         SET status = st,
             submitted_at = CASE WHEN st >= 1 THEN coalesce(submitted_at, now()) ELSE submitted_at END
       WHERE id = target_id;
    ELSIF op <= 34 THEN  -- jaws swapped
      target_id := 1 + floor(random() * (SELECT max(id) FROM dispatch_instruction))::int;
      UPDATE dispatch_instruction SET upper_jaw_id = lower_jaw_id, lower_jaw_id = upper_jaw_id
       WHERE id = target_id;
    ELSIF op <= 37 THEN  -- notes rewritten
      target_id := 1 + floor(random() * (SELECT max(id) FROM dispatch_instruction))::int;
      UPDATE dispatch_instruction
         SET notes = CASE WHEN r % 3 = 0
                          THEN (SELECT string_agg(md5((r - g)::text), ' ') FROM generate_series(1, 80) g)
                          ELSE 'edited note ' || r END
       WHERE id = target_id;
    ELSIF op <= 51 THEN  -- notification
      INSERT INTO dispatch_notification (recipient_id, template, template_context)
      VALUES (usr, (ARRAY['order_shipped', 'payment_received', 'comment_added', 'state_changed'])[1 + r % 4],
              json_build_object('order', base_instr, 'by', 'user' || usr,
                                'tags', json_build_array('live', r % 7))::text);
    ELSIF op <= 56 THEN  -- notification read
      target_id := 1 + floor(random() * (SELECT max(id) FROM dispatch_notification))::bigint;
      UPDATE dispatch_notification SET is_read = 1 WHERE id = target_id;
    ELSIF op <= 63 THEN  -- payment of a sample order
      INSERT INTO dispatch_payment (instruction_id, amount, method, paid_at)
      VALUES (base_instr, round(((50 + r % 3000) / 7.0)::numeric, 2),
              (ARRAY['card', 'wire', 'check', NULL])[1 + r % 4], now());
    ELSIF op <= 70 THEN  -- patient edited
      UPDATE dispatch_patient
         SET last_name = 'Ient' || id || '-' || r % 100,
             suffix = upper(substr(md5(r::text), 1, 4)),
             birth_date = date '1960-01-01' + (r % 20000)::int
       WHERE id = patient;
    ELSIF op <= 74 THEN  -- file uploaded
      INSERT INTO dispatch_file (instruction_id, name, size)
      VALUES (base_instr, 'upload_' || r || '.stl', 1000 + r % 9000000);
    ELSIF op <= 78 THEN  -- file deleted
      target_id := 1 + floor(random() * (SELECT max(id) FROM dispatch_file))::int;
      DELETE FROM dispatch_file WHERE id = target_id;
    ELSIF op <= 85 THEN  -- state recorded
      INSERT INTO dispatch_state (kind, patient_id, instruction_id, state)
      VALUES (CASE WHEN r % 2 = 0 THEN 'case' ELSE 'order' END,
              CASE WHEN r % 2 = 0 OR r % 3 = 0 THEN patient END,
              CASE WHEN r % 2 = 1 OR r % 3 = 0 THEN base_instr END,
              (ARRAY['new', 'in_review', 'approved', 'closed'])[1 + r % 4]);
    ELSIF op <= 90 THEN  -- state moves between case and order
      target_id := 1 + floor(random() * (SELECT max(id) FROM dispatch_state))::int;
      UPDATE dispatch_state
         SET kind = CASE WHEN kind = 'case' THEN 'order' ELSE 'case' END,
             patient_id = coalesce(patient_id, patient),
             instruction_id = coalesce(instruction_id, base_instr),
             changed_at = now()
       WHERE id = target_id;
    ELSIF op <= 94 THEN  -- oldest workload order purged, children first
      SELECT id INTO victim FROM dispatch_instruction WHERE id > base
       ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED;
      IF victim IS NOT NULL THEN
        DELETE FROM dispatch_state WHERE instruction_id = victim;
        DELETE FROM dispatch_payment WHERE instruction_id = victim;
        DELETE FROM dispatch_file WHERE instruction_id = victim;
        DELETE FROM dispatch_instruction WHERE id = victim;
      END IF;
    ELSE  -- e-mail changed
      UPDATE dispatch_user SET email = 'user' || id || '.' || r % 1000 || '@example.org' WHERE id = usr;
    END IF;
    COMMIT;
  END LOOP;
END
$workload$;
