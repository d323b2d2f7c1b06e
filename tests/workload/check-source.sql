-- tests/workload/check-source.sql — what the workload must never break on the SOURCE, as one
-- row per rule: `rule|violations`. Every count must be 0 after a run on clean sample data
-- (warts=0); tests/workload/check.sh asserts it. The rules are those that keep the source valid
-- for the TARGET schema, i.e. that keep the stream free of rows the target would refuse.
-- Usage: psql -X -At -v base_instructions=<1000 * scale> -f check-source.sql "<conninfo>"

CREATE FUNCTION pg_temp.is_json(t text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM t::jsonb;
  RETURN true;
EXCEPTION WHEN others THEN
  RETURN false;
END $$;

SELECT 'notification without an existing recipient', count(*)
  FROM dispatch_notification n
 WHERE NOT EXISTS (SELECT 1 FROM dispatch_user u WHERE u.id = n.recipient_id)
UNION ALL
SELECT 'notification context that is not JSON', count(*)
  FROM dispatch_notification WHERE template_context IS NOT NULL AND NOT pg_temp.is_json(template_context)
UNION ALL
SELECT 'e-mail that fails the target check', count(*)
  FROM dispatch_user WHERE email !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'
UNION ALL
SELECT 'case state without patient', count(*)
  FROM dispatch_state WHERE kind = 'case' AND patient_id IS NULL
UNION ALL
SELECT 'order state without instruction', count(*)
  FROM dispatch_state WHERE kind = 'order' AND instruction_id IS NULL
UNION ALL
-- jaws.order_id holds one order: a jaw named twice would make two orders fight over it.
SELECT 'jaw named by more than one order slot', count(*)
  FROM (SELECT jaw FROM (SELECT upper_jaw_id AS jaw FROM dispatch_instruction
                         UNION ALL
                         SELECT lower_jaw_id FROM dispatch_instruction) j
         WHERE jaw IS NOT NULL GROUP BY jaw HAVING count(*) > 1) dup
UNION ALL
SELECT 'sample order deleted', :base_instructions - count(*)
  FROM dispatch_instruction WHERE id <= :base_instructions;
