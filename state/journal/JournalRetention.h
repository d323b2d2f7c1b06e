// Retention of closed segments (JournalWriter::applyRetention): by retain_bytes and
// retain_age, oldest first, never the open segment, and never what a consumer has not applied
// unless retain_bytes forces it out (then the consumers are named in forcedPast).
#pragma once

#include "state/journal/Journal.h"

namespace pgmorph::journal {

JournalWriter::Retention applyRetention(const JournalOptions& options, Lsn openSegment);

}  // namespace pgmorph::journal
