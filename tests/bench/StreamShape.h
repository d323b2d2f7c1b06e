// What pgmorph's plugin options (Wal2JsonDecoder::pluginOptions) make wal2json send: the
// benchmarks generate their messages in that shape, so they measure what the stream carries.
#pragma once

#include "cdc/Wal2JsonDecoder.h"

namespace pgmorph::bench {

// Whether each column carries its type name (wal2json writes it unless include-types is 0).
inline bool streamHasTypes() {
  for (const auto& [name, value] : Wal2JsonDecoder::pluginOptions())
    if (name == "include-types") return value != "0";
  return true;
}

}  // namespace pgmorph::bench
