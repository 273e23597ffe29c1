// GET /v1/receipts/{id}: an entry's inclusion proof against a published
// (and, with witnesses, cosigned) checkpoint, for the organisation it was
// issued to (docs/api.md).
#include <chrono>

#include <boost/json.hpp>

#include "base/crypto.h"
#include "entry/entry.h"
#include "gateway/api/api.h"
#include "gateway/internal/service.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

}  // namespace

HttpResponse Service::Receipt(const Caller& caller, const std::string& id, bool as_json) {
  auto fail = [&](const Error& e) {
    metrics_.Count("firebreak_errors_total", "kind=\"receipt\"");
    AccessLog(json::object{{"ts", NowSeconds()}, {"event", "error"}, {"kind", "receipt"},
                           {"code", std::string(ErrorCodeName(e.code()))}});
    return ProblemResponse({500, "", "the receipt could not be built"});
  };
  uint64_t index = 0;
  std::string request_id;
  if (!ParseReceiptId(id, &index, &request_id) || index >= appender_->sequenced_size()) {
    return ProblemResponse({404, "", "no such receipt"});
  }
  auto t0 = std::chrono::steady_clock::now();
  // Bounded: a stalled publisher must not hold every worker (or shutdown).
  if (auto st = appender_->WaitPublished(index, std::chrono::seconds(5)); !st) {
    if (st.error().code() == ErrorCode::kUnavailable) {
      HttpResponse r = ProblemResponse({503, "", "the log has not published this entry yet; try again shortly"});
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    return fail(st.error());
  }
  metrics_.publish_seconds().Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  auto snapshot = log_->Latest();
  if (!snapshot) return fail(snapshot.error());
  if (witnessing_) {
    // Against the newest witnessed checkpoint when it covers the entry, so
    // that the receipt carries the cosignatures; else the newest, with the
    // cosignatures collected for it so far.
    std::string served = witnessing_->Served();
    auto note = ledger::ParseNote(served);
    auto cp = note ? ledger::ParseCheckpoint(note->text) : Result<ledger::Checkpoint>(tl::make_unexpected(Internal("")));
    if (cp && cp->size > index && cp->size <= snapshot->checkpoint.size) {
      snapshot->note = served;
      snapshot->checkpoint = *cp;
    } else {
      snapshot->note = witnessing_->WithCosignatures(snapshot->note);
    }
  }
  if (snapshot->checkpoint.size <= index) return fail(Internal("published checkpoint does not cover the entry"));
  auto entry_text = log_->Entry(*snapshot, index);
  if (!entry_text) return fail(entry_text.error());
  // Receipts are for the organisation they were issued to; anything else is
  // "no such receipt", in the same words.
  auto parsed = entry::Parse(*entry_text);
  if (!parsed) return ProblemResponse({404, "", "no such receipt"});
  const json::value* rid = parsed->if_contains("request_id");
  const json::value* req = parsed->if_contains("requester");
  const json::value* org = req && req->is_object() ? req->get_object().if_contains("org") : nullptr;
  if (!rid || !rid->is_string() || !ConstantTimeEquals(rid->get_string(), request_id) || !org ||
      !org->is_string() || org->get_string() != caller.org.id) {
    return ProblemResponse({404, "", "no such receipt"});
  }
  auto built = log_->ReceiptFor(*snapshot, index);
  if (!built) return fail(built.error());
  ledger::Receipt& receipt = *built;
  std::string text = ledger::FormatReceipt(receipt);
  if (as_json) {
    return JsonResponse(200, json::object{{"receipt", id},
                                          {"index", index},
                                          {"entry", receipt.extra},
                                          {"tlog_proof", text},
                                          {"log_key", signer_->VerifierKeyText()}});
  }
  HttpResponse out;
  out.content_type = "text/plain; charset=utf-8";
  out.body = std::move(text);
  return out;
}

}  // namespace firebreak::gateway::internal
