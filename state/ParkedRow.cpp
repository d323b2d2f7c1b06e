#include "state/ParkedRow.h"

#include <fmt/format.h>

#include <stdexcept>

namespace pgmorph {

std::string_view toString(ParkKind kind) {
  switch (kind) {
    case ParkKind::MissingParent:
      return "missing_parent";
    case ParkKind::NullReference:
      return "null_reference";
    case ParkKind::Refused:
      return "refused";
    case ParkKind::Unconvertible:
      return "unconvertible";
  }
  return "refused";
}

ParkKind parseParkKind(std::string_view name) {
  for (ParkKind k : {ParkKind::MissingParent, ParkKind::NullReference, ParkKind::Refused,
                     ParkKind::Unconvertible})
    if (toString(k) == name) return k;
  throw std::invalid_argument(fmt::format(
      "'{}' is not a kind of parked row (missing_parent, null_reference, refused, unconvertible)",
      name));
}

}  // namespace pgmorph
