// RefusalHandler: what TargetWriter::applyOrdered does with a write the target refused,
// decided by its caller — the hook for parking. Skip: the write is left out and the rest
// of the batch is applied (the caller keeps the write, e.g. parks it with the reason);
// Stop: the transaction is rolled back and RefusedRowError thrown. Without a handler,
// every refusal stops.
#pragma once

#include <functional>

#include "sink/RefusedRowError.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

enum class RefusalAction { Stop, Skip };

// `row.writeIndex` is the OrderedWrite's `source`: the index, in the span given to
// BatchOrderer::order(), of the (last) write it stands for. `write` is the write as applied
// (merged values included); both are valid only during the call.
using RefusalHandler =
    std::function<RefusalAction(const RefusedRow& row, const TargetWrite& write)>;

}  // namespace pgmorph
