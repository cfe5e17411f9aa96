/*
 * SHA-1 of up to four equal-length messages at once, interleaved, with the x86 SHA extensions.
 *
 * One SHA-1 is a chain of dependent SHA1RNDS4 instructions, so a core hashing one message waits on their
 * latency most of the time: OpenSSL reaches about 2 GB/s per core here. Independent messages fill those
 * waits: four lanes hash about 2.5 times as many bytes per core. Torrent creation has many pieces to hash,
 * so it feeds several at once. Everywhere else (other CPUs, or this addon not built) the callers use
 * node:crypto.
 *
 * API (N-API): available: boolean; init(state); update(state, lanes[]). `state` is a Uint8Array of 20 bytes
 * per lane: each lane's five state words, in the CPU's byte order. Padding is the caller's (one more update).
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#define MAX_LANES 4

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))
#define ALWAYS static inline __attribute__((always_inline)) SHA_TARGET

ALWAYS __m128i rounds4(__m128i abcd, __m128i e, int f) {
  switch (f) {
    case 0: return _mm_sha1rnds4_epu32(abcd, e, 0);
    case 1: return _mm_sha1rnds4_epu32(abcd, e, 1);
    case 2: return _mm_sha1rnds4_epu32(abcd, e, 2);
    default: return _mm_sha1rnds4_epu32(abcd, e, 3);
  }
}

/*
 * One 64-byte block of each of `n` lanes. The 20 groups of four rounds follow the usual SHA-NI schedule:
 * SHA1MSG1, XOR and SHA1MSG2 build each next four message words; the lanes' instructions are interleaved.
 */
ALWAYS void compress(int n, __m128i *abcd, __m128i *e, const uint8_t *const *block) {
  const __m128i byteswap = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
  __m128i msg[4][MAX_LANES], a[MAX_LANES], es[2][MAX_LANES], abcd0[MAX_LANES], e0[MAX_LANES];
  _Pragma("GCC unroll 4") for (int k = 0; k < n; k++) {
    a[k] = abcd[k];
    es[0][k] = e[k];
    abcd0[k] = a[k];
    e0[k] = e[k];
    _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {
      msg[i][k] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block[k] + 16 * i)), byteswap);
    }
  }
  _Pragma("GCC unroll 20") for (int g = 0; g < 20; g++) {
    const int cur = g & 1, next = cur ^ 1, m = g & 3;
    _Pragma("GCC unroll 4") for (int k = 0; k < n; k++) {
      es[cur][k] = g == 0 ? _mm_add_epi32(es[cur][k], msg[m][k]) : _mm_sha1nexte_epu32(es[cur][k], msg[m][k]);
      es[next][k] = a[k];
      if (g >= 3 && g <= 18) msg[(g + 1) & 3][k] = _mm_sha1msg2_epu32(msg[(g + 1) & 3][k], msg[m][k]);
      a[k] = rounds4(a[k], es[cur][k], g / 5);
      if (g >= 1 && g <= 16) msg[(g + 3) & 3][k] = _mm_sha1msg1_epu32(msg[(g + 3) & 3][k], msg[m][k]);
      if (g >= 2 && g <= 17) msg[(g + 2) & 3][k] = _mm_xor_si128(msg[(g + 2) & 3][k], msg[m][k]);
    }
  }
  _Pragma("GCC unroll 4") for (int k = 0; k < n; k++) {
    // es[0] holds ABCD as it was before the last four rounds: its rotated A becomes the next E.
    e[k] = _mm_sha1nexte_epu32(es[0][k], e0[k]);
    abcd[k] = _mm_add_epi32(a[k], abcd0[k]);
  }
}

static SHA_TARGET void load(const uint32_t *h, __m128i *abcd, __m128i *e) {
  *abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
  *e = _mm_set_epi32((int)h[4], 0, 0, 0);
}

static SHA_TARGET void store(__m128i abcd, __m128i e, uint32_t *h) {
  _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
  h[4] = (uint32_t)_mm_extract_epi32(e, 3);
}

/* `length` bytes (a multiple of 64) of each lane, through compress() specialised for each lane count. */
#define DEFINE_UPDATE(N)                                                                        \
  static SHA_TARGET void update##N(uint32_t (*h)[5], const uint8_t *const *lanes, size_t length) { \
    __m128i abcd[N], e[N];                                                                      \
    const uint8_t *block[N];                                                                    \
    for (int k = 0; k < N; k++) load(h[k], &abcd[k], &e[k]);                                    \
    for (size_t at = 0; at < length; at += 64) {                                                \
      for (int k = 0; k < N; k++) block[k] = lanes[k] + at;                                     \
      compress(N, abcd, e, block);                                                              \
    }                                                                                           \
    for (int k = 0; k < N; k++) store(abcd[k], e[k], h[k]);                                     \
  }
DEFINE_UPDATE(1)
DEFINE_UPDATE(2)
DEFINE_UPDATE(3)
DEFINE_UPDATE(4)

static void update_lanes(int n, uint32_t (*h)[5], const uint8_t *const *lanes, size_t length) {
  switch (n) {
    case 1: update1(h, lanes, length); break;
    case 2: update2(h, lanes, length); break;
    case 3: update3(h, lanes, length); break;
    default: update4(h, lanes, length); break;
  }
}

static int cpu_has_sha(void) {
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_SSE4_1) || !(ecx & bit_SSSE3)) return 0;
  if (__get_cpuid_max(0, 0) < 7) return 0;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  return (ebx >> 29) & 1; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}
#else
static void update_lanes(int n, uint32_t (*h)[5], const uint8_t *const *lanes, size_t length) {
  (void)n, (void)h, (void)lanes, (void)length;
}
static int cpu_has_sha(void) { return 0; }
#endif

static const uint32_t INITIAL[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error(env, NULL, "sha1-lanes: N-API call failed");       \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

/*
 * The arguments of a call whose first is the state: a 4-byte-aligned Uint8Array of 20 bytes per lane (1 to
 * 4). Returns 0, with a TypeError thrown, when they are not.
 */
static int state_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, uint32_t (**h)[5], int *lanes) {
  size_t argc = want;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      length == 0 || length % 20 != 0 || length / 20 > MAX_LANES || ((uintptr_t)data & 3) != 0) {
    napi_throw_type_error(env, NULL, "sha1-lanes: state must be a 4-byte-aligned Uint8Array of 20 bytes per lane (1 to 4)");
    return 0;
  }
  *h = (uint32_t (*)[5])data;
  *lanes = (int)(length / 20);
  return 1;
}

static napi_value init(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t (*h)[5];
  int lanes;
  if (!state_args(env, info, 1, argv, &h, &lanes)) return NULL;
  for (int k = 0; k < lanes; k++) memcpy(h[k], INITIAL, sizeof INITIAL);
  return NULL;
}

/* update(state, lanes): one Uint8Array per lane, all of the same length, a multiple of 64. */
static napi_value update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t (*h)[5];
  int lanes;
  uint32_t count;
  const uint8_t *data[MAX_LANES];
  size_t length = 0;
  if (!state_args(env, info, 2, argv, &h, &lanes)) return NULL;
  if (napi_get_array_length(env, argv[1], &count) != napi_ok || (int)count != lanes) {
    napi_throw_type_error(env, NULL, "sha1-lanes: give one Uint8Array per lane of the state");
    return NULL;
  }
  for (uint32_t k = 0; k < count; k++) {
    napi_value lane;
    napi_typedarray_type type;
    size_t bytes;
    void *p;
    if (napi_get_element(env, argv[1], k, &lane) != napi_ok ||
        napi_get_typedarray_info(env, lane, &type, &bytes, &p, NULL, NULL) != napi_ok || type != napi_uint8_array ||
        bytes % 64 != 0 || (k > 0 && bytes != length)) {
      napi_throw_type_error(env, NULL, "sha1-lanes: lanes must be Uint8Arrays of one length, a multiple of 64");
      return NULL;
    }
    length = bytes;
    data[k] = p;
  }
  if (length > 0) update_lanes(lanes, h, data, length);
  return NULL;
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_value fn, available;
  CHECK(napi_get_boolean(env, cpu_has_sha(), &available));
  CHECK(napi_set_named_property(env, exports, "available", available));
  CHECK(napi_create_function(env, "init", NAPI_AUTO_LENGTH, init, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "init", fn));
  CHECK(napi_create_function(env, "update", NAPI_AUTO_LENGTH, update, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "update", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
