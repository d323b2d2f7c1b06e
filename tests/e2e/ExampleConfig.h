// ExampleConfig: the test's pipeline file, made from the project's example
// (deploy/examples/dispatch/mapping.yaml) by substituting only what is per test: the two
// conninfo lines, the pipeline name, the slot (cluster-wide, so unique per test) and the
// state schema. Everything else — the whole mapping — is the example's, as users see it.
// The example text is edited line by line and each substitution must happen exactly once:
// if the example's shape changes, this says so instead of silently testing something else.
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

}  // namespace pgmorph::e2e
