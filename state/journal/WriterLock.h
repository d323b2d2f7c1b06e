// writer.lock: the one writer of a journal directory holds an flock() on it for its lifetime
// and writes its PID into it, so a second writer is refused with a message naming the holder.
// flock (not a PID check) because the kernel drops it when the holder dies, kill -9 included.
#pragma once

#include <filesystem>

#include "state/journal/SegmentFile.h"

namespace pgmorph::journal {

class WriterLock {
 public:
  // Throws PgmorphError (Operator) naming the holder's PID when another process holds it.
  explicit WriterLock(const std::filesystem::path& dir);

 private:
  Fd fd_;
};

}  // namespace pgmorph::journal
