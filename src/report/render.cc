// CSV and a standalone HTML page (inline CSS and SVG, no external resource,
// no script) for a release. The JSON is `Release::ToJson`.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "base/encoding.h"
#include "report/report.h"

namespace firebreak::report {

namespace {

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::string Date(int64_t t) {
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

template <typename Fn>
void ForEachCell(const Release& r, Fn fn) {
  const Vocabulary& v = r.vocabulary;
  for (size_t p = 0; p < v.periods.size(); ++p)
    for (size_t t = 0; t < v.requester_types.size(); ++t)
      for (size_t u = 0; u < v.purposes.size(); ++u)
        for (size_t d = 0; d < v.decisions.size(); ++d)
          for (size_t k = 0; k < v.roles.size(); ++k) fn(p, t, u, d, k, r.noisy[v.Index(p, t, u, d, k)]);
}

// A horizontal bar chart: one bar per label, values may be negative (noise).
std::string BarChart(const std::string& title, const std::vector<std::pair<std::string, int64_t>>& bars,
                     const std::string& colour) {
  const int label_w = 300, bar_w = 380, row_h = 22, top = 4;
  int64_t max = 1;
  for (const auto& [l, v] : bars) max = std::max(max, v);
  int height = top + row_h * int(bars.size()) + 10;
  std::string s = fmt::format(
      "<h3>{0}</h3><svg role=\"img\" aria-label=\"{0}\" width=\"{1}\" height=\"{2}\" viewBox=\"0 0 {1} {2}\" "
      "xmlns=\"http://www.w3.org/2000/svg\"><title>{0}</title>",
      HtmlEscape(title), label_w + bar_w + 80, height);
  int y = top;
  for (const auto& [label, value] : bars) {
    int w = value > 0 ? int(double(value) / double(max) * bar_w) : 0;
    s += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" "
        "fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
        label_w - 6, y + 15, HtmlEscape(label), label_w, y + 3, w, row_h - 6, colour, label_w + w + 6, y + 15, value);
    y += row_h;
  }
  return s + "</svg>";
}

}  // namespace

std::string ToCsv(const Release& r) {
  std::string out = "period,requester_type,purpose,decision,protected_role,noisy_count,low95,high95\n";
  const Vocabulary& v = r.vocabulary;
  ForEachCell(r, [&](size_t p, size_t t, size_t u, size_t d, size_t k, int64_t n) {
    out += fmt::format("{},{},{},{},{},{},{},{}\n", CsvField(v.periods[p]), CsvField(v.requester_types[t]),
                       CsvField(v.purposes[u]), CsvField(v.decisions[d]), CsvField(v.roles[k]), n, n - r.half_width,
                       n + r.half_width);
  });
  return out;
}

std::string ToHtml(const Release& r) {
  const Vocabulary& v = r.vocabulary;
  std::map<std::string, int64_t> permits_by_period, denies_by_period, permits_by_role, permits_by_type;
  ForEachCell(r, [&](size_t p, size_t t, size_t, size_t d, size_t k, int64_t n) {
    (d == 0 ? permits_by_period : denies_by_period)[v.periods[p]] += n;
    if (d == 0) {
      permits_by_role[v.roles[k]] += n;
      permits_by_type[v.requester_types[t]] += n;
    }
  });
  auto bars = [](const std::vector<std::string>& order, std::map<std::string, int64_t>& m) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const std::string& k : order) out.emplace_back(k, m[k]);
    return out;
  };
  std::string title = fmt::format("Transparency report of {}: {} to {}", r.holder, r.from, r.to);
  std::string h = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>"
      "body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;"
      "line-height:1.45}}"
      "table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #888;padding:.25rem .5rem;"
      "text-align:left}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}"
      ".proof{{border-left:.4rem solid #1a5e20;background:#eef6ee;padding:.5rem 1rem;margin:.5rem 0}}"
      ".badge{{display:inline-block;background:#1a5e20;color:#fff;padding:0 .4rem;border-radius:.2rem;"
      "font-size:.85em}}.note{{border-left:.4rem solid #8a5a00;background:#fff6e0;padding:.5rem 1rem}}"
      "svg text{{font-size:13px;fill:#111}}@media print{{.proof,.note{{break-inside:avoid}}}}"
      "</style></head><body>\n<h1>{}</h1>\n",
      HtmlEscape(title), HtmlEscape(title));
  h += fmt::format(
      "<p>Release <code>{}</code>, made {} from the first {} entries of the log <code>{}</code> under the pack "
      "<code>{}</code>.</p>\n",
      HtmlEscape(r.id.substr(0, 16)), Date(r.created), r.log_size, HtmlEscape(r.holder), HtmlEscape(r.pack_hash));

  h += "<h2>What the proofs guarantee</h2>\n";
  if (r.statements.empty()) {
    h += fmt::format("<p class=\"note\">{}</p>\n",
                     HtmlEscape(r.statements_note.empty() ? "The pack in force proves no guarantee." : r.statements_note));
  } else {
    h += "<p>These statements hold for <strong>every possible request</strong> under the pack in force. They come "
         "from the verifier's proof, not from the data, and carry no noise.</p>\n";
    for (const Statement& s : r.statements) {
      h += fmt::format(
          "<div class=\"proof\"><span class=\"badge\">From the proof</span> <strong>{}</strong><br>{}"
          "<br><small><code>{}</code>{}</small></div>\n",
          HtmlEscape(s.text), HtmlEscape(s.because), HtmlEscape(s.guarantee), s.source.empty() ? "" : " — " + HtmlEscape(s.source));
    }
  }

  h += "<h2>Decisions counted</h2>\n";
  h += fmt::format(
      "<p class=\"note\">Every count below has random noise added (differential privacy, ε = {} for this release, "
      "each person counted at most {}), so that nothing in it shows whether any one person is in the data. "
      "Each cell's true count is within <strong>±{}</strong> of the number shown with probability at least 95 %. "
      "Small or negative numbers mean “few or none”. Sums of cells add the noise of every cell.</p>\n",
      HtmlEscape(r.epsilon.ToString()), r.cap == 1 ? std::string("once") : fmt::format("{} times", r.cap), r.half_width);
  // A sum of N cells adds N independent noises: its standard deviation is
  // σ·√N with σ² = 2p/(1−p)², p = e^{−s/t} (for reading only).
  long double p = std::exp(-(long double)r.scale.s / (long double)r.scale.t);
  long double sigma = std::sqrt(2 * p) / (1 - p);
  auto spread = [&](size_t cells) {
    return fmt::format(" — noisy sums of {} cells each, ± about {:.0f} (two standard deviations)", cells,
                       double(2 * sigma * std::sqrt((long double)cells)));
  };
  const size_t per_period = v.requester_types.size() * v.purposes.size() * v.roles.size();
  h += BarChart("Permits by period" + spread(per_period), bars(v.periods, permits_by_period), "#1a5e20");
  h += BarChart("Refusals by period" + spread(per_period), bars(v.periods, denies_by_period), "#8b1a1a");
  h += BarChart("Permits by the person's role" + spread(v.periods.size() * v.requester_types.size() * v.purposes.size()),
                bars(v.roles, permits_by_role), "#1a3e8b");
  h += BarChart("Permits by requester type" + spread(v.periods.size() * v.purposes.size() * v.roles.size()),
                bars(v.requester_types, permits_by_type), "#5a2a8b");

  h += fmt::format(
      "<h2>Cells above the noise</h2><p>The cells whose noisy count exceeds ±{}; every cell of the {} "
      "(zeros included) is in the CSV and JSON.</p>\n<table><thead><tr><th scope=\"col\">Period</th>"
      "<th scope=\"col\">Requester type</th><th scope=\"col\">Purpose</th><th scope=\"col\">Decision</th>"
      "<th scope=\"col\">Person's role</th><th scope=\"col\">Count</th><th scope=\"col\">95 % interval</th>"
      "</tr></thead><tbody>\n",
      r.half_width, v.cells());
  ForEachCell(r, [&](size_t p, size_t t, size_t u, size_t d, size_t k, int64_t n) {
    if (n <= r.half_width) return;
    h += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{} to {}</td></tr>\n",
        HtmlEscape(v.periods[p]), HtmlEscape(v.requester_types[t]), HtmlEscape(v.purposes[u]), HtmlEscape(v.decisions[d]), HtmlEscape(v.roles[k]), n,
        std::max<int64_t>(0, n - r.half_width), n + r.half_width);
  });
  h += "</tbody></table>\n";
  h += "<h2>How this was made</h2>\n<ul>";
  h += fmt::format("<li>Mechanism: {}, noise scale {}/{} per cell.</li>", HtmlEscape(r.mechanism), r.scale.t, r.scale.s);
  h += fmt::format(
      "<li>Privacy unit: the data subject. Each person (by pseudonym) contributes at most {} decision{} to this "
      "release; later ones are left out. Requests about a person the holder could not find, or about no one, count "
      "as one unit each.</li>",
      r.cap, r.cap == 1 ? "" : "s");
  h += fmt::format("<li>Decisions outside the schema's vocabularies (noisy): {}.</li>", r.outside_vocabulary);
  if (r.unreadable > 0) {
    h += fmt::format("<li><strong>{} entries could not be read or opened</strong> and are not counted.</li>",
                     r.unreadable);
  }
  h += fmt::format("<li>Hash of the numbers: <code>{}</code> (recorded in the holder's budget ledger).</li>",
                   HtmlEscape(r.output_hash));
  h += "</ul>\n</body></html>\n";
  return h;
}

}  // namespace firebreak::report
