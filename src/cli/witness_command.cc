// `firebreak witness …`: run a C2SP tlog-witness for an oversight body.
//   firebreak witness keygen --name NAME --key FILE   a new witness key
//   firebreak witness serve --config FILE             serve add-checkpoint
//   firebreak witness evidence --config FILE          print the evidence kept
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include <boost/json.hpp>

#include "base/files.h"
#include "cli/commands.h"
#include "ledger/note.h"
#include "oversight/oversight.h"

namespace firebreak::cli {
namespace {

namespace witness = oversight::witness;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "firebreak witness: %s\n", message.c_str());
  return code;
}

int RunKeygen(const std::string& name, const std::string& key_path) {
  auto signer = ledger::CosignatureSigner::Generate(name);
  if (!signer) return Fail(kExitUsage, signer.error().message());
  if (std::filesystem::exists(key_path)) {
    return Fail(kExitUsage, key_path + " already exists; a witness key is never overwritten");
  }
  if (auto st = WriteFileAtomically(key_path, signer->PrivateKeyText() + "\n", 0600); !st) {
    return Fail(kExitUsage, st.error().message());
  }
  std::printf("%s\n", signer->Verifier().KeyText().c_str());
  return kExitOk;
}

int RunServe(const std::string& config_path) {
  auto config = witness::LoadWitnessConfig(config_path);
  if (!config) return Fail(kExitUsage, config.error().message());
  auto server = witness::Server::Start(*config);
  if (!server) return Fail(kExitUsage, server.error().message());
  std::fprintf(stderr, "firebreak witness: %s listening on %s (port %u), %zu logs\n",
               (*server)->witness().Verifier().KeyText().c_str(), config->listen.c_str(),
               unsigned((*server)->port()), config->logs.size());
  (*server)->Wait();
  return kExitOk;
}

int RunEvidence(const std::string& config_path) {
  auto config = witness::LoadWitnessConfig(config_path);
  if (!config) return Fail(kExitUsage, config.error().message());
  auto signer_text = ReadFile(config->key_file);
  if (!signer_text) return Fail(kExitUsage, signer_text.error().message());
  while (!signer_text->empty() && signer_text->back() == '\n') signer_text->pop_back();
  auto signer = ledger::CosignatureSigner::FromKeyText(*signer_text);
  if (!signer) return Fail(kExitUsage, signer.error().message());
  witness::Witness::Options o;
  o.logs = config->logs;
  o.state = config->state;
  auto w = witness::Witness::Open(std::move(*signer), std::move(o));
  if (!w) return Fail(kExitUsage, w.error().message());
  auto evidence = (*w)->ListEvidence(1000000);
  if (!evidence) return Fail(kExitUsage, evidence.error().message());
  boost::json::array out;
  for (const auto& e : *evidence) {
    out.push_back(boost::json::object{{"received", e.received}, {"origin", e.origin},
                                      {"status", e.status},     {"reason", e.reason},
                                      {"request", e.request},   {"stored", e.stored}});
  }
  std::cout << boost::json::serialize(out) << "\n";
  return evidence->empty() ? kExitOk : kExitFindings;
}

}  // namespace

void AddWitnessCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "witness",
      "Run a witness (C2SP tlog-witness): co-sign the checkpoints of the logs it watches, never two "
      "inconsistent ones, and keep evidence of misbehaviour.");
  cmd->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  CLI::App* keygen = cmd->add_subcommand(
      "keygen", "Make a new witness key (cosignature/v1, Ed25519) and print its verifier key.");
  keygen->add_option("--name", *name, "the witness's name, a schema-less URL (e.g. witness.example/w1)")
      ->required();
  keygen->add_option("--key", *key, "where to write the private key (mode 0600; never overwritten)")
      ->required();
  keygen->callback([=] { *exit_code = RunKeygen(*name, *key); });

  auto config = std::make_shared<std::string>();
  CLI::App* serve = cmd->add_subcommand(
      "serve",
      "Serve POST <prefix>/add-checkpoint, GET <prefix>/checkpoint/<origin> and the about page "
      "GET <prefix>/ until SIGINT or SIGTERM. The configuration is described in docs/oversight.md.");
  serve->add_option("--config", *config, "the witness configuration (JSON)")->required()->check(CLI::ExistingFile);
  serve->callback([=] { *exit_code = RunServe(*config); });

  auto econfig = std::make_shared<std::string>();
  CLI::App* evidence = cmd->add_subcommand(
      "evidence",
      "Print the requests kept as evidence of misbehaviour (JSON); exit 1 when there are any. Stop "
      "the witness first: its state is locked while it runs.");
  evidence->add_option("--config", *econfig, "the witness configuration (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  evidence->callback([=] { *exit_code = RunEvidence(*econfig); });
}

}  // namespace firebreak::cli
