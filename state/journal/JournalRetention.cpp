#include "state/journal/JournalRetention.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "state/journal/SegmentFile.h"

namespace pgmorph::journal {

namespace fs = std::filesystem;

JournalWriter::Retention applyRetention(const JournalOptions& options, Lsn openSegment) {
  JournalWriter::Retention result;
  if (options.retainBytes == 0 && options.retainAge.count() == 0) return result;
  const std::vector<Lsn> starts = listSegments(options.dir);
  std::uint64_t total = 0;
  std::vector<std::uint64_t> sizes;
  for (Lsn start : starts) {
    std::error_code ec;
    const auto size = fs::file_size(segmentPath(options.dir, start), ec);
    sizes.push_back(ec ? 0 : size);
    total += sizes.back();
  }
  const auto consumers = JournalConsumers(options.dir).list();
  const auto now = fs::file_time_type::clock::now();
  std::set<std::string> forced;
  // Oldest first, and stop at the first segment kept: the journal stays one unbroken range
  // (a reader's JournalGap is "before start()", never a hole in the middle).
  for (std::size_t i = 0; i + 1 < starts.size() && starts[i] < openSegment; ++i) {
    // The segment holds commits in (starts[i], starts[i+1]]: its last commit is at most the
    // next segment's start, which is what a consumer must have applied to lose nothing.
    const Lsn last = starts[i + 1];
    std::error_code ec;
    const auto mtime = fs::last_write_time(segmentPath(options.dir, starts[i]), ec);
    const bool tooOld = options.retainAge.count() > 0 && !ec && now - mtime > options.retainAge;
    const bool tooBig = options.retainBytes > 0 && total > options.retainBytes;
    if (!tooOld && !tooBig) break;
    std::vector<std::string> behind;
    for (const auto& c : consumers)
      if (c.applied < last) behind.push_back(c.name);
    if (!behind.empty() && !tooBig) break;  // age alone never deletes what is not applied
    forced.insert(behind.begin(), behind.end());
    // The segment first, then its index: a reader takes the journal's start from the .seg
    // files, so it never sees a start whose segment is gone.
    fs::remove(segmentPath(options.dir, starts[i]));
    fs::remove(indexPath(options.dir, starts[i]), ec);
    total -= sizes[i];
    result.removedSegments += 1;
    result.removedBytes += sizes[i];
  }
  if (result.removedSegments > 0) fsyncDir(options.dir);
  result.forcedPast.assign(forced.begin(), forced.end());
  return result;
}

}  // namespace pgmorph::journal
