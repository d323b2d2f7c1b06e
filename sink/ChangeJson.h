// ChangeJson: a source Change as JSON and back, the `source_change` of Unconvertible parked
// rows (a change that could not be transformed is kept as it came, and transformed again when
// it is retried):
// {"k":"U","x":771,"l":"0/16B3748","s":"public","t":"dispatch_notification",
//  "c":[["id","bigint","#","1300"],...],"i":[...]} — value kinds: n(ull) b(ool) #(number)
// s(tring); numbers keep their exact text.
//
// The parked table survives upgrades: decode reads what earlier versions wrote (this same
// format), and encode writes nothing else (sink/tests/ChangeJsonTest pins the exact text).
#pragma once

#include <string>
#include <string_view>

#include "cdc/model/Change.h"

namespace pgmorph::ChangeJson {

// Throws std::invalid_argument for a change that is not a row change (Insert, Update,
// Delete, Truncate).
std::string encode(const Change& change);
// Throws std::invalid_argument when `json` is not what encode() writes.
void decode(std::string_view json, Change& out);

}  // namespace pgmorph::ChangeJson
