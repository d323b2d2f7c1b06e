// Sha1: an incremental SHA-1 (FIPS 180-4) whose state is a small copyable value.
//
// It exists for IdMapper's hot path: a UUIDv5 is SHA-1(namespace || name), and every name
// of one table starts with the same "<table>:" prefix. IdMapper feeds the namespace and the
// prefix once, then copies that state per key and feeds only the key, so one id costs one
// compression of a single 64-byte block for the usual short keys, with no allocation.
// (Boost.Uuid's generator, used by uuidV5() in Uuid.h as the independent reference, costs
// about four times as much per id.) Not for security; SHA-1 is what RFC 4122 v5 prescribes.
//
// The compression uses the x86 SHA extensions when the CPU has them (checked once, at
// first use) and portable code otherwise; both give the same digests (tests run both).
//
// Why not OpenSSL's SHA-1 (which uses the same extensions): measured by tests/bench/
// Sha1Bench.cpp (one id: the prefix state copied, the key fed, the digest taken) and
// TransformBench in the same run, 2026-12-02, 2 cores, OpenSSL 3.0.19, 6 repetitions:
//   hand-written, SHA extensions   49.6 ns per id (cv 1.0%)
//   OpenSSL EVP (EVP_MD_CTX_copy_ex of the prefix)   87.9 ns per id (cv 1.2%)
//   hand-written, portable         309 ns per id
// The transform of the example's sample inserts takes 1.35 digests per change (the id memo
// saves the rest) at 314 ns per change (cv 1.7%), decoding 547 ns (cv 2.8%): OpenSSL would add
// about 52 ns per change, 16% of the transform and 6% of decode + transform — more than the
// run-to-run spread. (Estimated from the per-id costs and the digests per change measured in
// that run, not by an A/B of the transform itself.)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pgmorph {

class Sha1 {
 public:
  using Digest = std::array<std::uint8_t, 20>;

  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Pads and returns the digest. Finishing consumes this state: copy it first to reuse a
  // prefix (that is the point of the class).
  Digest finish();
  // The same digest as five big-endian words (h0..h4), for callers that assemble their own
  // bytes in registers rather than reading back twenty single-byte stores.
  std::array<std::uint32_t, 5> finishWords();

  enum class Implementation { Portable, ShaExtensions };
  // The implementation in use, and a switch for tests and benchmarks (process-wide; asking
  // for ShaExtensions on a CPU without them keeps Portable). Returns the one now in use.
  static Implementation implementation();
  static Implementation useImplementation(Implementation wanted);

 private:
  void compress(const std::uint8_t* block);

  std::uint32_t h_[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  std::uint64_t length_ = 0;  // bytes fed so far
  std::uint8_t buffer_[64];   // pending bytes of the current block (length_ % 64 of them)
};

}  // namespace pgmorph
