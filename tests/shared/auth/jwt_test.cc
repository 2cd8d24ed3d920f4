#include "auth/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "auth/sodium_util.h"

namespace chatscale {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kSecret = "chatscale-reference-secret-0123456789abcdef";
constexpr std::string_view kSecret2 = "rotation-key-two-0123456789abcdefghijklmnop";
constexpr double kNow = 1'700'000'100;

// Tokens computed by Python's hmac/hashlib/base64/json (not this code), see the comments.
// {"alg":"HS256","typ":"JWT"} . {"sub":"user-42","tier":"plus","iat":1700000000,"exp":1700003600,
// "nbf":1700000000,"jti":"ref-1","kind":"access"}, secret kSecret.
constexpr std::string_view kReferenceA =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGllciI6InBsdXMiLCJpYXQiOjE3MDAwMD"
    "AwMDAsImV4cCI6MTcwMDAwMzYwMCwibmJmIjoxNzAwMDAwMDAwLCJqdGkiOiJyZWYtMSIsImtpbmQiOiJhY2Nlc3MifQ."
    "koOfDOexRyducgwDUQKUn9CW018bUtgpb9wWzV30KnQ";
// {"kid":"k2","typ":"JWT","alg":"HS256"} . {"exp":1700086400.5,"kind":"refresh","sub":"user-7",
// "tier":"free","iat":1700000000}, secret kSecret2.
constexpr std::string_view kReferenceB =
    "eyJraWQiOiJrMiIsInR5cCI6IkpXVCIsImFsZyI6IkhTMjU2In0.eyJleHAiOjE3MDAwODY0MDAuNSwia2luZCI6InJlZnJl"
    "c2giLCJzdWIiOiJ1c2VyLTciLCJ0aWVyIjoiZnJlZSIsImlhdCI6MTcwMDAwMDAwMH0."
    "P2sMbAeaRUX29lWRmTXPN0mGyxQcy4UD5z3bDK4HtyM";
// Sorted keys and compact separators, as nlohmann-json writes them: the exact output issue() must
// produce for kIssuedClaims under key {"k1", kSecret}.
constexpr std::string_view kReferenceIssued =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJleHAiOjE3MDAwMDA5MDAsImlhdCI6MTcwMDAwMD"
    "AwMCwianRpIjoiai0xIiwia2luZCI6ImFjY2VzcyIsIm5iZiI6MTcwMDAwMDAwMCwic3ViIjoidXNlci00MiIsInRpZXIi"
    "OiJwbHVzIn0.WZhs0W81_b9kIFgvHk0vLi0VXCfTmn1Aj5eBkqAuMc4";
// The example token of jwt.io, secret "your-256-bit-secret"; it has no "exp".
constexpr std::string_view kJwtIoToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0Ij"
    "oxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

Claims sample_claims() {
  return Claims{"user-42", "plus", 1'700'000'000, 1'700'000'900, 1'700'000'000, "j-1", "access"};
}

JwtCodec codec(double leeway = 30) {
  auto c = JwtCodec::create(std::string(kSecret), leeway);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return std::move(c).value();
}

// An HMAC-SHA256 computed here with libsodium's one-shot API, independently of jwt.cc.
std::string sign_raw(std::string_view header_b64, std::string_view payload_b64,
                     std::string_view secret = kSecret) {
  std::string input = std::string(header_b64) + "." + std::string(payload_b64);
  unsigned char key[crypto_auth_hmacsha256_KEYBYTES] = {};
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  EXPECT_EQ(secret.size(), sizeof key);  // the one-shot API wants exactly 32 bytes
  std::copy(secret.begin(), secret.begin() + std::min(secret.size(), sizeof key), key);
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(input.data()), input.size(), key);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), sizeof mac));
}

constexpr std::string_view kKey32 = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::string_view kPayload = R"({"sub":"u1","exp":1700000900})";

// A token with the given JSON texts, correctly signed with kKey32.
std::string make_token(std::string_view header_json, std::string_view payload_json) {
  return sign_raw(base64url_encode(header_json), base64url_encode(payload_json), kKey32);
}

JwtCodec codec32() { return std::move(JwtCodec::create(std::string(kKey32))).value(); }

void expect_rejected(const Result<Claims>& r, const std::string& message_part) {
  ASSERT_FALSE(r.is_ok()) << "expected rejection containing: " << message_part;
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(r.status().message(), HasSubstr(message_part));
}

TEST(Jwt, RoundTrip) {
  JwtCodec c = codec();
  Claims in = sample_claims();
  Result<Claims> out = c.verify(c.issue(in), kNow);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->sub, in.sub);
  EXPECT_EQ(out->tier, in.tier);
  EXPECT_EQ(out->iat, in.iat);
  EXPECT_EQ(out->exp, in.exp);
  EXPECT_EQ(out->nbf, in.nbf);
  EXPECT_EQ(out->jti, in.jti);
  EXPECT_EQ(out->kind, in.kind);
}

TEST(Jwt, RoundTripKeepsFractionsAndLeavesOutEmptyClaims) {
  JwtCodec c = codec();
  Claims in{"u", "", 1'700'000'000.25, 1'700'000'500.75, 0, "", ""};
  std::string token = c.issue(in);
  Result<std::string> payload = verify_jwt_signature(token, kSecret);
  ASSERT_TRUE(payload.is_ok());
  EXPECT_EQ(*payload, R"({"exp":1700000500.75,"iat":1700000000.25,"sub":"u"})");
  Result<Claims> out = c.verify(token, kNow);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->exp, in.exp);
  EXPECT_EQ(out->iat, in.iat);
  EXPECT_TRUE(out->kind.empty());
}

TEST(Jwt, IssueMatchesReferenceImplementation) {
  auto c = JwtCodec::create(std::vector<JwtKey>{{"k1", std::string(kSecret)}});
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->issue(sample_claims()), kReferenceIssued);
}

TEST(Jwt, VerifiesReferenceTokens) {
  auto c = JwtCodec::create(
      std::vector<JwtKey>{{"k1", std::string(kSecret)}, {"k2", std::string(kSecret2)}});
  ASSERT_TRUE(c.is_ok());
  Result<Claims> a = c->verify(kReferenceA, kNow);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_EQ(a->sub, "user-42");
  EXPECT_EQ(a->tier, "plus");
  EXPECT_EQ(a->exp, 1'700'003'600);
  EXPECT_EQ(a->nbf, 1'700'000'000);
  EXPECT_EQ(a->jti, "ref-1");
  EXPECT_EQ(a->kind, "access");
  Result<Claims> b = c->verify(kReferenceB, kNow);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->sub, "user-7");
  EXPECT_EQ(b->exp, 1'700'086'400.5);
  EXPECT_EQ(b->kind, "refresh");
  EXPECT_EQ(b->nbf, 0);
  EXPECT_TRUE(c->verify(kReferenceIssued, kNow).is_ok());
}

TEST(Jwt, JwtIoExampleSignatureVerifiesButHasNoExpiry) {
  Result<std::string> payload = verify_jwt_signature(kJwtIoToken, "your-256-bit-secret");
  ASSERT_TRUE(payload.is_ok()) << payload.status().to_string();
  EXPECT_EQ(*payload, R"({"sub":"1234567890","name":"John Doe","iat":1516239022})");
  expect_rejected(parse_jwt_claims(*payload, 1'516'239'100, 30), "token has no 'exp' claim");
  Result<std::string> wrong = verify_jwt_signature(kJwtIoToken, "your-256-bit-secreT");
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_EQ(wrong.status().message(), "token signature does not match");
  // The codec itself refuses a 19-byte secret.
  auto weak = JwtCodec::create("your-256-bit-secret");
  ASSERT_FALSE(weak.is_ok());
  EXPECT_EQ(weak.status().code(), StatusCode::kInvalidArgument);
}

TEST(Jwt, CreateValidatesKeysAndLeeway) {
  EXPECT_EQ(JwtCodec::create(std::string(31, 'k')).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(JwtCodec::create(std::string(32, 'k')).is_ok());
  EXPECT_FALSE(JwtCodec::create(std::string(kSecret), -1).is_ok());
  EXPECT_FALSE(JwtCodec::create(std::string(kSecret), std::nan("")).is_ok());
  EXPECT_FALSE(JwtCodec::create(std::vector<JwtKey>{}).is_ok());
  auto dup = JwtCodec::create(
      std::vector<JwtKey>{{"a", std::string(kSecret)}, {"a", std::string(kSecret2)}});
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
}

TEST(Jwt, RejectsWrongNumberOfParts) {
  JwtCodec c = codec32();
  std::string good = make_token(kHeader, kPayload);
  ASSERT_TRUE(c.verify(good, kNow).is_ok());
  expect_rejected(c.verify("", kNow), "token is empty");
  expect_rejected(c.verify("abc", kNow), "token has 1 parts, expected 3");
  expect_rejected(c.verify(good.substr(0, good.rfind('.')), kNow), "token has 2 parts");
  expect_rejected(c.verify(good + ".x", kNow), "token has 4 parts");
  expect_rejected(c.verify("..", kNow), "token header is not valid JSON");
}

TEST(Jwt, RejectsBadBase64) {
  JwtCodec c = codec32();
  std::string header = base64url_encode(kHeader);
  std::string payload = base64url_encode(kPayload);
  expect_rejected(c.verify(sign_raw(header + "=", payload, kKey32), kNow),
                  "token header is not valid base64url");
  expect_rejected(c.verify(sign_raw("eyJ+", payload, kKey32), kNow),
                  "token header is not valid base64url");
  // Correctly signed, but the payload segment is not base64url.
  expect_rejected(c.verify(sign_raw(header, payload + "*", kKey32), kNow),
                  "token payload is not valid base64url");
  std::string good = make_token(kHeader, kPayload);
  expect_rejected(c.verify(good + "=", kNow), "token signature is not valid base64url");
  std::string cut = good.substr(0, good.size() - 3);
  expect_rejected(c.verify(cut, kNow), "token signature has 30 bytes, expected 32");
}

TEST(Jwt, RejectsBadJson) {
  JwtCodec c = codec32();
  expect_rejected(c.verify(make_token("{\"alg\":", kPayload), kNow), "token header is not valid JSON");
  expect_rejected(c.verify(make_token("[\"HS256\"]", kPayload), kNow),
                  "token header is not a JSON object");
  expect_rejected(c.verify(make_token(kHeader, "{\"sub\":\"u\""), kNow),
                  "token payload is not valid JSON");
  expect_rejected(c.verify(make_token(kHeader, "42"), kNow), "token payload is not a JSON object");
  expect_rejected(c.verify(make_token(kHeader, "{\"sub\":\"\xff\xfe\",\"exp\":1700000900}"), kNow),
                  "token payload is not valid JSON");
}

TEST(Jwt, RejectsEveryAlgorithmButHs256) {
  JwtCodec c = codec32();
  for (std::string alg : {"none", "None", "NONE", "HS512", "RS256", "ES256", "hs256", "HS256 "}) {
    std::string header = R"({"alg":")" + alg + R"(","typ":"JWT"})";
    std::string signed_token = make_token(header, kPayload);
    expect_rejected(c.verify(signed_token, kNow), "token algorithm '" + alg + "' is not allowed");
    // The classic "alg":"none" attack: an empty signature.
    std::string unsigned_token = signed_token.substr(0, signed_token.rfind('.') + 1);
    expect_rejected(c.verify(unsigned_token, kNow), "is not allowed (only HS256)");
  }
  expect_rejected(c.verify(make_token(R"({"typ":"JWT"})", kPayload), kNow), "header has no 'alg'");
  expect_rejected(c.verify(make_token(R"({"alg":256})", kPayload), kNow), "'alg' is not a string");
}

TEST(Jwt, ChecksTypAndCrit) {
  JwtCodec c = codec32();
  EXPECT_TRUE(c.verify(make_token(R"({"alg":"HS256"})", kPayload), kNow).is_ok());
  EXPECT_TRUE(c.verify(make_token(R"({"alg":"HS256","typ":"jwt"})", kPayload), kNow).is_ok());
  expect_rejected(c.verify(make_token(R"({"alg":"HS256","typ":"JWS"})", kPayload), kNow),
                  "token type 'JWS' is not JWT");
  expect_rejected(c.verify(make_token(R"({"alg":"HS256","typ":1})", kPayload), kNow),
                  "token type '1' is not JWT");
  expect_rejected(c.verify(make_token(R"({"alg":"HS256","crit":["exp"]})", kPayload), kNow),
                  "critical extensions");
  expect_rejected(c.verify(make_token(R"({"alg":"HS256","kid":7})", kPayload), kNow),
                  "'kid' is not a string");
}

TEST(Jwt, RejectsWrongKey) {
  auto other = JwtCodec::create(std::string(kSecret2));
  ASSERT_TRUE(other.is_ok());
  expect_rejected(codec().verify(other->issue(sample_claims()), kNow),
                  "token signature does not match");
}

TEST(Jwt, RejectsTamperedPayloadAndHeader) {
  JwtCodec c = codec();
  std::string token = c.issue(sample_claims());
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  Claims forged = sample_claims();
  forged.sub = "admin";
  forged.tier = "enterprise";
  std::string forged_token = c.issue(forged);
  size_t f1 = forged_token.find('.');
  size_t f2 = forged_token.find('.', f1 + 1);
  // The forged payload with the original signature.
  std::string spliced =
      token.substr(0, first + 1) + forged_token.substr(f1 + 1, f2 - f1 - 1) + token.substr(second);
  expect_rejected(c.verify(spliced, kNow), "token signature does not match");
  std::string header_swap = base64url_encode(R"({"typ":"JWT","alg":"HS256"})") + token.substr(first);
  expect_rejected(c.verify(header_swap, kNow), "token signature does not match");
}

TEST(Jwt, ExpiryWithLeeway) {
  JwtCodec c = codec(30);
  Claims claims = sample_claims();
  claims.exp = kNow - 30;  // expired exactly at the edge of the leeway
  expect_rejected(c.verify(c.issue(claims), kNow), "token expired at 1700000070 (now 1700000100");
  claims.exp = kNow - 29;
  EXPECT_TRUE(c.verify(c.issue(claims), kNow).is_ok());
  JwtCodec strict = codec(0);
  claims.exp = kNow;
  expect_rejected(strict.verify(strict.issue(claims), kNow), "token expired");
  claims.exp = kNow + 0.5;
  EXPECT_TRUE(strict.verify(strict.issue(claims), kNow).is_ok());
}

TEST(Jwt, NotBeforeAndIssuedAtWithLeeway) {
  JwtCodec c = codec(30);
  Claims claims = sample_claims();
  claims.exp = kNow + 3600;
  claims.nbf = kNow + 31;
  expect_rejected(c.verify(c.issue(claims), kNow), "token not valid before 1700000131");
  claims.nbf = kNow + 30;
  EXPECT_TRUE(c.verify(c.issue(claims), kNow).is_ok());
  claims.nbf = 0;
  claims.iat = kNow + 31;
  expect_rejected(c.verify(c.issue(claims), kNow), "token issued in the future at 1700000131");
  claims.iat = kNow + 30;
  EXPECT_TRUE(c.verify(c.issue(claims), kNow).is_ok());
}

TEST(Jwt, RejectsMissingRequiredClaims) {
  JwtCodec c = codec32();
  expect_rejected(c.verify(make_token(kHeader, R"({"exp":1700000900})"), kNow),
                  "token has no 'sub' claim");
  expect_rejected(c.verify(make_token(kHeader, R"({"sub":"u"})"), kNow), "token has no 'exp' claim");
  expect_rejected(c.verify(make_token(kHeader, R"({"sub":"","exp":1700000900})"), kNow),
                  "token claim 'sub' is empty");
}

TEST(Jwt, RejectsClaimsOfWrongJsonType) {
  JwtCodec c = codec32();
  struct Case {
    const char* payload;
    const char* message;
  };
  const Case cases[] = {
      {R"({"sub":42,"exp":1700000900})", "claim 'sub' is not a string"},
      {R"({"sub":null,"exp":1700000900})", "claim 'sub' is not a string"},
      {R"({"sub":"u","exp":"1700000900"})", "claim 'exp' is not a number"},
      {R"({"sub":"u","exp":true})", "claim 'exp' is not a number"},
      {R"({"sub":"u","exp":1700000900,"iat":"now"})", "claim 'iat' is not a number"},
      {R"({"sub":"u","exp":1700000900,"nbf":null})", "claim 'nbf' is not a number"},
      {R"({"sub":"u","exp":1700000900,"tier":1})", "claim 'tier' is not a string"},
      {R"({"sub":"u","exp":1700000900,"jti":["a"]})", "claim 'jti' is not a string"},
      {R"({"sub":"u","exp":1700000900,"kind":{}})", "claim 'kind' is not a string"},
      {R"({"sub":"u","exp":1700000900,"kind":"admin"})", "kind 'admin' is neither"},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.payload);
    expect_rejected(c.verify(make_token(kHeader, test_case.payload), kNow), test_case.message);
  }
  // Out of double range: nlohmann-json refuses the number; were it read as infinity, verify would
  // still refuse a token that never expires.
  Result<Claims> huge = c.verify(make_token(kHeader, R"({"sub":"u","exp":1e999})"), kNow);
  ASSERT_FALSE(huge.is_ok());
  EXPECT_EQ(huge.status().code(), StatusCode::kUnauthenticated);
  // Unknown claims are ignored.
  EXPECT_TRUE(c.verify(make_token(kHeader, R"({"sub":"u","exp":1700000900,"x":[1]})"), kNow).is_ok());
}

TEST(Jwt, RejectsOversizedTokens) {
  JwtCodec c = codec();
  Claims claims = sample_claims();
  claims.jti = std::string(5'000, 'j');
  std::string token = c.issue(claims);
  ASSERT_LE(token.size(), JwtCodec::kMaxTokenBytes);
  EXPECT_TRUE(c.verify(token, kNow).is_ok());
  claims.jti = std::string(6'500, 'j');
  token = c.issue(claims);
  ASSERT_GT(token.size(), JwtCodec::kMaxTokenBytes);
  expect_rejected(c.verify(token, kNow), "more than the limit of 8192");
  expect_rejected(c.verify(std::string(8193, 'a'), kNow), "token is 8193 bytes");
}

TEST(Jwt, KeyRotationSelectsByKid) {
  auto old_codec = JwtCodec::create(std::vector<JwtKey>{{"old", std::string(kSecret)}});
  auto rotated = JwtCodec::create(
      std::vector<JwtKey>{{"new", std::string(kSecret2)}, {"old", std::string(kSecret)}});
  auto retired = JwtCodec::create(std::vector<JwtKey>{{"new", std::string(kSecret2)}});
  ASSERT_TRUE(old_codec.is_ok() && rotated.is_ok() && retired.is_ok());
  std::string old_token = old_codec->issue(sample_claims());
  EXPECT_TRUE(rotated->verify(old_token, kNow).is_ok());
  expect_rejected(retired->verify(old_token, kNow), "token key id 'old' is unknown");
  std::string new_token = rotated->issue(sample_claims());
  EXPECT_THAT(new_token, ::testing::StartsWith(base64url_encode(R"({"alg":"HS256","kid":"new")")));
  EXPECT_TRUE(retired->verify(new_token, kNow).is_ok());
  expect_rejected(old_codec->verify(new_token, kNow), "token key id 'new' is unknown");
  // A kid naming the other key: only the named key is tried.
  std::string mislabelled = old_token;
  std::string old_header = base64url_encode(R"({"alg":"HS256","kid":"old","typ":"JWT"})");
  ASSERT_EQ(mislabelled.find(old_header), 0u);
  mislabelled.replace(0, old_header.size(),
                      base64url_encode(R"({"alg":"HS256","kid":"new","typ":"JWT"})"));
  expect_rejected(rotated->verify(mislabelled, kNow), "token signature does not match");
  // Without a kid, every key is tried.
  EXPECT_TRUE(rotated->verify(codec().issue(sample_claims()), kNow).is_ok());
  EXPECT_TRUE(rotated->verify(kReferenceA, kNow).is_ok());
}

TEST(Jwt, ExpectedKind) {
  JwtCodec c = codec();
  Claims claims = sample_claims();
  claims.kind = "refresh";
  std::string refresh = c.issue(claims);
  EXPECT_TRUE(c.verify(refresh, kNow, kRefreshToken).is_ok());
  expect_rejected(c.verify(refresh, kNow, kAccessToken), "token has kind 'refresh', expected 'access'");
  claims.kind = "";
  expect_rejected(c.verify(c.issue(claims), kNow, kAccessToken), "token has no kind");
}

TEST(Jwt, Base64UrlIsStrict) {
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(*base64url_decode("-_8"), "\xfb\xff");
  EXPECT_EQ(*base64url_decode("QQ"), "A");
  EXPECT_FALSE(base64url_decode("QR").is_ok());    // non-zero trailing bits
  EXPECT_FALSE(base64url_decode("QQ==").is_ok());  // padding
  EXPECT_FALSE(base64url_decode("Q").is_ok());     // impossible length
  EXPECT_FALSE(base64url_decode("+/8").is_ok());   // standard alphabet
  EXPECT_FALSE(base64url_decode("QQ ").is_ok());
}

// Mutates one token at random: replace, insert or delete a byte, or truncate. Never the identity.
std::string mutate(const std::string& token, std::mt19937& rng) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \x00\xff";
  constexpr std::string_view kAlphabet(kChars, sizeof kChars - 1);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  if (token.empty()) return std::string(1, kAlphabet[pick(kAlphabet.size())]);
  std::string out = token;
  while (out == token) {
    out = token;
    size_t pos = pick(token.size());
    char c = kAlphabet[pick(kAlphabet.size())];
    switch (pick(4)) {
      case 0: out[pos] = c; break;
      case 1: out.insert(out.begin() + pos, c); break;
      case 2: out.erase(pos, 1); break;
      default: out.resize(pos); break;
    }
  }
  return out;
}

TEST(JwtFuzz, MutationsOfAValidTokenNeverVerify) {
  JwtCodec c = codec();
  const std::string token = c.issue(sample_claims());
  ASSERT_TRUE(c.verify(token, kNow).is_ok());
  std::mt19937 rng(20240611);
  for (int i = 0; i < 10'000; ++i) {
    std::string mutated = mutate(token, rng);
    if (i % 3 == 2) mutated = mutate(mutated, rng);  // sometimes two edits
    if (mutated == token) continue;
    Result<Claims> r = c.verify(mutated, kNow);
    ASSERT_FALSE(r.is_ok()) << "mutation verified: " << mutated;
    ASSERT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  }
}

TEST(JwtFuzz, RandomBytesNeverVerifyNorCrash) {
  JwtCodec c = codec();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(0, 400);
  for (int i = 0; i < 10'000; ++i) {
    std::string raw(length(rng), '\0');
    for (char& ch : raw) ch = static_cast<char>(byte(rng));
    // Half the time, shape it like a token so the later checks run on random content too.
    std::string token = raw;
    if (i % 2 == 1) {
      size_t third = raw.size() / 3;
      token = base64url_encode(raw.substr(0, third)) + "." +
              base64url_encode(raw.substr(third, third)) + "." + base64url_encode(raw.substr(2 * third));
    }
    ASSERT_FALSE(c.verify(token, kNow).is_ok());
    ASSERT_FALSE(verify_jwt_signature(token, kSecret).is_ok());
    (void)parse_jwt_claims(raw, kNow, 30);
  }
}

}  // namespace
}  // namespace chatscale
