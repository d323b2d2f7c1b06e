// ExampleConfig: the test's pipeline file, made from the project's example
// (deploy/examples/dispatch/mapping.yaml) by substituting only what is per test: the two
// conninfo lines, the pipeline name, the slot (cluster-wide, so unique per test) and the
// state schema. Everything else — the whole mapping — is the example's, as users see it.
// The example text is edited line by line and each substitution must happen exactly once:
// if the example's shape changes, this says so instead of silently testing something else.
//
// Every pipeline file an e2e test writes (this one, and the files of tests with their own
// schema) goes through writePipelineFile, which applies the suite-wide setting:
//   PGMORPH_TEST_APPLY_SESSIONS=N  puts `sessions: N` in the file's `apply:` section —
//     merged into the test's own `apply:` (block or flow map) when it writes one, added as
//     `apply: { sessions: N }` otherwise. A test that sets `sessions:` itself keeps its value.
//     So `PGMORPH_TEST_APPLY_SESSIONS=2 build/tests/e2e_tests` runs the whole suite with
//     parallel target sessions.
#pragma once

#include <string>
#include <vector>

namespace pgmorph::e2e {

// A change to the example's mapping for one test: `from` must occur in exactly one line of
// the file, where it is replaced by `to`.
struct MappingEdit {
  std::string from;
  std::string to;
};

struct ExampleSettings {
  std::string sourceConninfo;
  std::string targetConninfo;
  std::string pipeline;
  std::string slot;
  std::string stateSchema;
  std::vector<MappingEdit> edits;
};

// The path of the example mapping in the source tree.
std::string exampleMappingPath();
// The example text with `settings` substituted and its edits made. Throws
// std::runtime_error if a line to replace is missing or ambiguous.
std::string exampleConfig(const ExampleSettings& settings);
// ids.namespace of the example (read from the file, not from pgmorph's loader).
std::string exampleIdNamespace();

// `yaml` (a whole pipeline file) with `sessions: <sessions>` in its top-level `apply:`
// section, as described above; unchanged if that section already sets `sessions:`. Throws
// std::runtime_error for an `apply:` it cannot merge into (neither a block nor a flow map).
std::string withApplySessions(const std::string& yaml, unsigned sessions);
// Writes the pipeline file `path`: `yaml` with the suite-wide settings of the environment
// (PGMORPH_TEST_APPLY_SESSIONS) applied. Throws std::runtime_error if the variable is not a
// positive integer or the file cannot be written.
void writePipelineFile(const std::string& path, const std::string& yaml);

}  // namespace pgmorph::e2e
