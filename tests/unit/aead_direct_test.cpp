// When lib/aead's GCM takes the direct path (the provider's functions) and
// when it falls back to EVP: checked against test providers that offer
// OpenSSL's own AES-256-GCM through dispatch tables with a function left
// out, or under a name offered twice. (Wycheproof's vectors run through both
// paths in crypto_vectors_test.cpp.)
#include <gtest/gtest.h>
#include <openssl/core_dispatch.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include <cstring>
#include <memory>
#include <vector>

#include "aead.hpp"

namespace crosswalk {
namespace {

// What the test provider offers; read by its query function.
enum class Offer { kComplete, kWithoutUpdate, kWithoutGetParams, kTwice };
Offer g_offer = Offer::kComplete;

// The default provider's AES-256-GCM functions and provider context, which
// the test provider passes on.
const OSSL_DISPATCH* g_real_table = nullptr;
void* g_real_provctx = nullptr;
OSSL_FUNC_cipher_newctx_fn* g_real_newctx = nullptr;
std::vector<OSSL_DISPATCH> g_table;

void* ForwardNewCtx(void*) { return g_real_newctx(g_real_provctx); }

// The real table with newctx forwarded (it takes the provider context) and,
// for kWithoutUpdate / kWithoutGetParams, that function left out.
void BuildTable() {
  g_table.clear();
  for (const OSSL_DISPATCH* d = g_real_table; d->function_id != 0; ++d) {
    if (g_offer == Offer::kWithoutUpdate && d->function_id == OSSL_FUNC_CIPHER_UPDATE) continue;
    if (g_offer == Offer::kWithoutGetParams && d->function_id == OSSL_FUNC_CIPHER_GET_CTX_PARAMS) continue;
    if (d->function_id == OSSL_FUNC_CIPHER_NEWCTX) {
      g_table.push_back({OSSL_FUNC_CIPHER_NEWCTX, reinterpret_cast<void (*)(void)>(ForwardNewCtx)});
    } else {
      g_table.push_back(*d);
    }
  }
  g_table.push_back({0, nullptr});
}

const OSSL_ALGORITHM* QueryOperation(void*, int operation_id, int* no_cache) {
  static OSSL_ALGORITHM once[2], twice[3];
  *no_cache = 1;
  if (operation_id != OSSL_OP_CIPHER) return nullptr;
  once[0] = {"AES-256-GCM:id-aes256-GCM", "provider=cwtest", g_table.data(), nullptr};
  once[1] = {nullptr, nullptr, nullptr, nullptr};
  twice[0] = {"AES-256-GCM:id-aes256-GCM", "provider=cwtest,fips=no", g_table.data(), nullptr};
  twice[1] = {"id-aes256-GCM", "provider=cwtest,fips=yes", g_table.data(), nullptr};
  twice[2] = {nullptr, nullptr, nullptr, nullptr};
  return g_offer == Offer::kTwice ? twice : once;
}

int TestProviderInit(const OSSL_CORE_HANDLE*, const OSSL_DISPATCH*, const OSSL_DISPATCH** out, void** provctx) {
  static const OSSL_DISPATCH kProvider[] = {
      {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<void (*)(void)>(QueryOperation)}, {0, nullptr}};
  *out = kProvider;
  *provctx = &g_table;  // any non-null context: the forwarded functions use the default provider's
  return 1;
}

struct LibCtxDeleter {
  void operator()(OSSL_LIB_CTX* c) const { OSSL_LIB_CTX_free(c); }
};
struct CipherDeleter {
  void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};

// Finds the default provider's AES-256-GCM table (once).
void FindRealTable() {
  if (g_real_table != nullptr) return;
  OSSL_PROVIDER* def = OSSL_PROVIDER_load(nullptr, "default");
  ASSERT_NE(def, nullptr);
  int no_cache = 0;
  for (const OSSL_ALGORITHM* a = OSSL_PROVIDER_query_operation(def, OSSL_OP_CIPHER, &no_cache);
       a != nullptr && a->algorithm_names != nullptr; ++a) {
    if (std::strncmp(a->algorithm_names, "AES-256-GCM:", 12) == 0) g_real_table = a->implementation;
  }
  ASSERT_NE(g_real_table, nullptr);
  g_real_provctx = OSSL_PROVIDER_get0_provider_ctx(def);
  for (const OSSL_DISPATCH* d = g_real_table; d->function_id != 0; ++d) {
    if (d->function_id == OSSL_FUNC_CIPHER_NEWCTX) g_real_newctx = OSSL_FUNC_cipher_newctx(d);
  }
  ASSERT_NE(g_real_newctx, nullptr);
}

// Loads the test provider with the offer into a fresh library context and
// reports whether AES-256-GCM fetched from it can run direct. *usable_by_evp
// receives whether EVP seals and opens a message with the fetched cipher.
void Check(Offer offer, bool* direct, bool* usable_by_evp) {
  FindRealTable();
  g_offer = offer;
  BuildTable();
  std::unique_ptr<OSSL_LIB_CTX, LibCtxDeleter> libctx(OSSL_LIB_CTX_new());
  ASSERT_TRUE(libctx);
  ASSERT_EQ(OSSL_PROVIDER_add_builtin(libctx.get(), "cwtest", TestProviderInit), 1);
  OSSL_PROVIDER* prov = OSSL_PROVIDER_load(libctx.get(), "cwtest");
  ASSERT_NE(prov, nullptr);
  std::unique_ptr<EVP_CIPHER, CipherDeleter> cipher(EVP_CIPHER_fetch(libctx.get(), "AES-256-GCM", nullptr));
  if (!cipher) ERR_print_errors_fp(stderr);
  ASSERT_TRUE(cipher) << "the test provider's cipher must be fetchable";
  EXPECT_EQ(OSSL_PROVIDER_get0_name(EVP_CIPHER_get0_provider(cipher.get())), std::string("cwtest"));
  *direct = GcmCanRunDirect(cipher.get(), 32);
  std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const std::uint8_t key[32] = {1}, nonce[12] = {2}, msg[5] = {'h', 'e', 'l', 'l', 'o'};
  std::uint8_t ct[5], tag[16], fin[16];
  int n = 0;
  *usable_by_evp = EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key, nonce, nullptr) == 1 &&
                   EVP_EncryptUpdate(ctx.get(), ct, &n, msg, sizeof msg) == 1 &&
                   EVP_EncryptFinal_ex(ctx.get(), fin, &n) == 1 &&
                   EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
  OSSL_PROVIDER_unload(prov);
}

TEST(AeadDirect, DefaultProviderRunsDirectForEveryKeySize) {
  for (std::size_t key_size : {16u, 24u, 32u}) {
    Aead gcm(AeadMode::kGcm, std::vector<std::uint8_t>(key_size, 7));
    EXPECT_TRUE(gcm.direct()) << key_size;
    EXPECT_FALSE(Aead(AeadMode::kGcm, std::vector<std::uint8_t>(key_size, 7), AeadPath::kEvp).direct());
  }
  EXPECT_FALSE(Aead(AeadMode::kSiv, std::vector<std::uint8_t>(64, 7)).direct());
}

TEST(AeadDirect, ProviderWithEveryFunctionRunsDirect) {
  bool direct = false, evp = false;
  Check(Offer::kComplete, &direct, &evp);
  EXPECT_TRUE(evp);
  EXPECT_TRUE(direct);
}

TEST(AeadDirect, ProviderWithoutUpdateFallsBack) {
  bool direct = true, evp = false;
  Check(Offer::kWithoutUpdate, &direct, &evp);
  EXPECT_FALSE(direct);
}

TEST(AeadDirect, ProviderWithoutGetParamsFallsBack) {
  bool direct = true, evp = true;
  Check(Offer::kWithoutGetParams, &direct, &evp);
  EXPECT_FALSE(direct);
  EXPECT_FALSE(evp) << "without get_ctx_params EVP cannot read the tag either";
}

TEST(AeadDirect, NameOfferedTwiceFallsBack) {
  bool direct = true, evp = false;
  Check(Offer::kTwice, &direct, &evp);
  EXPECT_TRUE(evp);
  EXPECT_FALSE(direct) << "which of two implementations EVP fetched is not knowable: EVP is used";
}

}  // namespace
}  // namespace crosswalk
