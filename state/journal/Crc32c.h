// CRC32C (Castagnoli, reflected, as in iSCSI and ext4) of the journal's frames.
//
// Hand-written, on purpose: Boost.CRC's table-driven form (one table lookup per byte) was
// 14.8% of `follow`'s CPU with a journal in a perf profile (tests/bench/journal-apply.sh), and the
// SSE4.2 `crc32` instruction computes the same checksum 8 bytes per instruction.
// tests/bench/JournalBench.cpp (BM_Crc32c/boost vs BM_Crc32c/hardware) measures the two on
// frame-sized inputs; the figures are in tests/bench/README.md. On a CPU without SSE4.2 (checked
// once at run time) Boost's form is used; both give the same value (state/tests/Crc32cTest.cpp).
#pragma once

#include <cstdint>
#include <string_view>

namespace pgmorph::journal {

std::uint32_t crc32c(std::string_view bytes);

// The two implementations, for the test and the benchmark.
std::uint32_t crc32cBoost(std::string_view bytes);
std::uint32_t crc32cHardware(std::string_view bytes);  // only where hasHardwareCrc32c()
bool hasHardwareCrc32c();

}  // namespace pgmorph::journal
