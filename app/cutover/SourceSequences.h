// SourceSequences: the floors of the target's sequences that the source's sequences give
// through the mapping. A target column that receives a source column owned by a source
// sequence (serial, identity, OWNED BY) — a plain or `type:` copy, or the `legacy_id` column
// of a one-column key — must hand out values past that sequence's last value after the
// cutover, or the new application would re-issue numbers the legacy one already gave (rows
// deleted since, numbers printed on paper). `ref:` columns receive UUIDs and are left out.
//
// Reads pg_sequences.last_value on the source (NULL, and so no floor, when the sequence was
// never used or the source role may not read it). Changes nothing.
#pragma once

#include "cdc/pg/PgConnection.h"
#include "sink/SequenceAdvancer.h"
#include "transform/Config.h"

namespace pgmorph {

SequenceAdvancer::Floors sourceSequenceFloors(const PipelineConfig& config, PgConnection& source);

}  // namespace pgmorph
