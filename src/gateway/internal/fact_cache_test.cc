// The fact cache (issue 9): authentication and subjects are read once while
// the store is unchanged, and a fact that changes in the store — a record,
// a case's status, a new credential, a new subject — changes the very next
// answer, including answers that were "not found" before.
#include "gateway/internal/fact_cache.h"

#include <gtest/gtest.h>

namespace firebreak::gateway::internal {
namespace {

class FactCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::NewMemoryStore();
    ASSERT_TRUE(store_->PutOrganisation({"force", "police", "A force", store::Scope::kHolder}));
    store::Subject s;
    s.reference = "R1";
    s.given_name = "Ana";
    s.family_name = "Lima";
    s.date_of_birth = "1990-02-03";
    auto id = store_->AddSubject(s);
    ASSERT_TRUE(id);
    id_ = *id;
    ASSERT_TRUE(store_->PutCase({"CR-1", "assault", "under-investigation", {}}));
    ASSERT_TRUE(store_->AddParticipant("CR-1", id_, "victim"));
    cache_ = std::make_unique<FactCache>(*store_);
  }

  static CallerRequest ByReference(const std::string& ref) {
    CallerRequest c;
    c.by = CallerRequest::SubjectBy::kReference;
    c.reference = ref;
    return c;
  }

  std::shared_ptr<const Resolution> Get(const CallerRequest& c) {
    auto now = cache_->Now();
    EXPECT_TRUE(now);
    auto r = cache_->Resolve(*now, c);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : nullptr;
  }

  std::unique_ptr<store::Store> store_;
  std::unique_ptr<FactCache> cache_;
  int64_t id_ = 0;
};

TEST_F(FactCacheTest, ASecondReadOfTheSameSubjectIsKept) {
  auto first = Get(ByReference("R1"));
  ASSERT_TRUE(first && first->subject);
  auto second = Get(ByReference("R1"));
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(cache_->counts().misses, 1u);
  EXPECT_EQ(cache_->counts().hits, 1u);
}

TEST_F(FactCacheTest, ARecordAddedInTheStoreIsInTheNextResolution) {
  auto before = Get(ByReference("R1"));
  ASSERT_TRUE(before);
  EXPECT_TRUE(before->records.empty());
  store::Record r;
  r.subject_id = id_;
  r.kind = "statement";
  r.collected_as = "victim";
  r.case_id = "CR-1";
  ASSERT_TRUE(store_->AddRecord(r));
  auto after = Get(ByReference("R1"));
  ASSERT_TRUE(after);
  ASSERT_EQ(after->records.size(), 1u);
  // The one kept before is unchanged (an answer in flight still uses it).
  EXPECT_TRUE(before->records.empty());
}

TEST_F(FactCacheTest, ACaseStatusChangedInTheStoreIsInTheNextResolution) {
  auto before = Get(ByReference("R1"));
  ASSERT_TRUE(before && before->cases.size() == 1);
  EXPECT_EQ(before->cases[0].case_status, "under-investigation");
  ASSERT_TRUE(store_->PutCase({"CR-1", "assault", "closed-no-further-action", {}}));
  auto after = Get(ByReference("R1"));
  ASSERT_TRUE(after && after->cases.size() == 1);
  EXPECT_EQ(after->cases[0].case_status, "closed-no-further-action");
}

TEST_F(FactCacheTest, NotFoundIsForgottenWhenTheSubjectArrives) {
  auto missing = Get(ByReference("R2"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->unresolved, "unknown-reference");
  EXPECT_EQ(Get(ByReference("R2")).get(), missing.get());  // kept while nothing changes
  store::Subject s;
  s.reference = "R2";
  ASSERT_TRUE(store_->AddSubject(s));
  auto found = Get(ByReference("R2"));
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->subject.has_value());
  EXPECT_TRUE(found->unresolved.empty());
}

TEST_F(FactCacheTest, IdentityMatchesAreKeptByWhatTheCallerSent) {
  CallerRequest c;
  c.by = CallerRequest::SubjectBy::kIdentity;
  c.given_name = "Ana";
  c.family_name = "Lima";
  c.date_of_birth = "1990-02-03";
  auto one = Get(c);
  ASSERT_TRUE(one && one->subject);
  EXPECT_EQ(one->subject->reference, "R1");
  // A second person with the same identity makes the match ambiguous.
  store::Subject twin;
  twin.reference = "R1-twin";
  twin.given_name = "ANA";
  twin.family_name = "lima";
  twin.date_of_birth = "1990-02-03";
  ASSERT_TRUE(store_->AddSubject(twin));
  auto two = Get(c);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->unresolved, "ambiguous-identity");
}

TEST_F(FactCacheTest, ACredentialAddedOrItsOrganisationChangedIsSeenAtOnce) {
  std::string digest(64, 'c');
  auto none = cache_->Organisation(*cache_->Now(), store::CredentialKind::kToken, digest);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(store_->AddCredential("force", store::CredentialKind::kToken, digest));
  auto org = cache_->Organisation(*cache_->Now(), store::CredentialKind::kToken, digest);
  ASSERT_TRUE(org && org->has_value());
  EXPECT_EQ((*org)->scope, store::Scope::kHolder);
  // The same digest as a certificate is another credential.
  auto cert = cache_->Organisation(*cache_->Now(), store::CredentialKind::kCertificate, digest);
  ASSERT_TRUE(cert);
  EXPECT_FALSE(cert->has_value());
  // The organisation's scope narrowed in the store: the next call sees it.
  ASSERT_TRUE(store_->PutOrganisation({"force", "police", "A force", store::Scope::kRequester}));
  auto narrowed = cache_->Organisation(*cache_->Now(), store::CredentialKind::kToken, digest);
  ASSERT_TRUE(narrowed && narrowed->has_value());
  EXPECT_EQ((*narrowed)->scope, store::Scope::kRequester);
}

}  // namespace
}  // namespace firebreak::gateway::internal
