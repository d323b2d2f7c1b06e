// One UUIDv5's SHA-1 as IdMapper computes it — the state after "<namespace><table>:" copied,
// then the key fed and the digest taken — with the hand-written Sha1 (SHA extensions, and
// portable) against OpenSSL's EVP interface (EVP_MD_CTX_copy_ex of the prefix state), the
// well-kept library the project would rather use. Keys as the example's: 1 to 7 digits.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "transform/Sha1.h"

namespace pgmorph {
namespace {

const std::vector<std::string>& keys() {
  static const std::vector<std::string> k = [] {
    std::vector<std::string> out;
    for (int i = 0; i < 4096; ++i) out.push_back(std::to_string((i * 7919) % 3000000));
    return out;
  }();
  return k;
}

const unsigned char kNamespace[16] = {0x8d, 0x3e, 0x2f, 0x4a, 0x1c, 0x5b, 0x4e, 0x7a,
                                      0x9b, 0x1f, 0x3c, 0x2d, 0x4e, 0x5f, 0x6a, 0x7b};
constexpr std::string_view kPrefix = "dispatch_instruction:";

void handWritten(benchmark::State& state, Sha1::Implementation impl) {
  auto used = Sha1::useImplementation(impl);
  if (used != impl) state.SkipWithError("this CPU has no SHA extensions");
  Sha1 prefix;
  prefix.update(kNamespace, sizeof kNamespace);
  prefix.update(kPrefix);
  const auto& k = keys();
  std::size_t i = 0;
  for (auto _ : state) {
    Sha1 sha = prefix;
    sha.update(k[i++ & 4095]);
    auto words = sha.finishWords();
    benchmark::DoNotOptimize(words);
  }
  Sha1::useImplementation(Sha1::Implementation::ShaExtensions);
}

void BM_IdSha1_HandWritten_ShaExtensions(benchmark::State& state) {
  handWritten(state, Sha1::Implementation::ShaExtensions);
}
void BM_IdSha1_HandWritten_Portable(benchmark::State& state) {
  handWritten(state, Sha1::Implementation::Portable);
}

void BM_IdSha1_OpenSslEvp(benchmark::State& state) {
  std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> md(EVP_MD_fetch(nullptr, "SHA1", nullptr),
                                                     &EVP_MD_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> prefix(EVP_MD_CTX_new(),
                                                                 &EVP_MD_CTX_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(prefix.get(), md.get(), nullptr);
  EVP_DigestUpdate(prefix.get(), kNamespace, sizeof kNamespace);
  EVP_DigestUpdate(prefix.get(), kPrefix.data(), kPrefix.size());
  const auto& k = keys();
  std::size_t i = 0;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  for (auto _ : state) {
    EVP_MD_CTX_copy_ex(ctx.get(), prefix.get());
    const std::string& key = k[i++ & 4095];
    EVP_DigestUpdate(ctx.get(), key.data(), key.size());
    EVP_DigestFinal_ex(ctx.get(), digest, &length);
    benchmark::DoNotOptimize(digest);
  }
}

BENCHMARK(BM_IdSha1_HandWritten_ShaExtensions);
BENCHMARK(BM_IdSha1_HandWritten_Portable);
BENCHMARK(BM_IdSha1_OpenSslEvp);

}  // namespace
}  // namespace pgmorph
