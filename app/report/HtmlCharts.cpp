#include "app/report/HtmlCharts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace pgmorph {

namespace {

constexpr const char* kColors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                   "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};

// A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `v`.
double niceMax(double v) {
  if (v <= 0) return 1;
  double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= v) return m * p;
  return 10 * p;
}

std::string tick(double v) {
  if (v >= 1e9) return fmt::format("{:.3g}G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.3g}k", v / 1e3);
  return fmt::format("{:.3g}", v);
}

}  // namespace

std::string htmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string svgTimeline(const std::vector<Phase>& phases) {
  if (phases.empty()) return "<p>No phases.</p>";
  auto origin = phases.front().started;
  double end = 0;
  for (const auto& p : phases)
    end = std::max(end, std::chrono::duration<double>(p.finished - origin).count());
  double scale = niceMax(end);
  const int left = 230, width = 700, row = 34, top = 20;
  int height = top + row * static_cast<int>(phases.size()) + 40;
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="timeline of the phases">)",
      left + width + 120, height);
  for (int i = 0; i <= 5; ++i) {
    double x = left + width * i / 5.0;
    svg += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" class="grid"/>)", x,
                       top - 5, height - 35);
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" class="tick" text-anchor="middle">{} s</text>)",
                       x, height - 20, tick(scale * i / 5));
  }
  svg += fmt::format(
      R"(<text x="{}" y="{}" class="axis" text-anchor="middle">seconds since the start of the rehearsal</text>)",
      left + width / 2, height - 4);
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const auto& p = phases[i];
    double from = std::chrono::duration<double>(p.started - origin).count();
    double x = left + width * from / scale;
    double w = std::max(2.0, width * p.seconds() / scale);
    int y = top + row * static_cast<int>(i);
    svg += fmt::format(R"(<text x="{}" y="{}" class="label" text-anchor="end">{}</text>)", left - 8,
                       y + 19, htmlEscape(p.name));
    svg += fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="24" rx="3" fill="{}"/>)",
                       x, y + 2, w, kColors[i % 8]);
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" class="value">{}</text>)", x + w + 6, y + 19,
                       htmlEscape(humanSeconds(p.seconds())));
  }
  return svg + "</svg>";
}

std::string svgBars(const std::vector<std::pair<std::string, double>>& bars,
                    const std::string& unit) {
  if (bars.empty()) return "<p>Nothing to show.</p>";
  double max = 0;
  for (const auto& [label, v] : bars) max = std::max(max, v);
  double scale = niceMax(max);
  const int left = 260, width = 600, row = 28;
  int height = row * static_cast<int>(bars.size()) + 10;
  std::string svg =
      fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">)",
                  left + width + 120, height);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    int y = row * static_cast<int>(i);
    double w = std::max(2.0, width * bars[i].second / scale);
    svg += fmt::format(R"(<text x="{}" y="{}" class="label" text-anchor="end">{}</text>)", left - 8,
                       y + 18, htmlEscape(bars[i].first));
    svg += fmt::format(R"(<rect x="{}" y="{}" width="{:.1f}" height="20" rx="3" fill="{}"/>)", left,
                       y + 3, w, kColors[0]);
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" class="value">{:.2f} {}</text>)", left + w + 6,
                       y + 18, bars[i].second, htmlEscape(unit));
  }
  return svg + "</svg>";
}

std::string svgLine(const std::vector<std::pair<double, double>>& points, const std::string& xTitle,
                    const std::string& yTitle, const std::string& color) {
  if (points.empty()) return "<p>No samples (the catch-up ended within a second).</p>";
  double xmax = 0, ymax = 0;
  for (const auto& [x, y] : points) {
    xmax = std::max(xmax, x);
    ymax = std::max(ymax, y);
  }
  xmax = niceMax(xmax);
  ymax = niceMax(ymax);
  const int left = 80, width = 600, top = 15, height = 200;
  std::string svg =
      fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">)",
                  left + width + 30, top + height + 50);
  for (int i = 0; i <= 4; ++i) {
    double y = top + height - height * i / 4.0;
    svg += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" class="grid"/>)", left, y,
                       left + width, y);
    svg += fmt::format(R"(<text x="{}" y="{:.1f}" class="tick" text-anchor="end">{}</text>)",
                       left - 6, y + 4, tick(ymax * i / 4));
    double x = left + width * i / 4.0;
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" class="tick" text-anchor="middle">{}</text>)", x,
                       top + height + 16, tick(xmax * i / 4));
  }
  std::string path;
  for (const auto& [x, y] : points)
    path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", left + width * x / xmax,
                        top + height - height * y / ymax);
  if (points.size() == 1) path += fmt::format(" l4,0");
  svg += fmt::format(R"(<path d="{}" fill="none" stroke="{}" stroke-width="2"/>)", path, color);
  svg += fmt::format(R"(<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>)",
                     left + width / 2, top + height + 38, htmlEscape(xTitle));
  svg += fmt::format(
      R"svg(<text x="14" y="{0}" class="axis" text-anchor="middle" transform="rotate(-90 14 {0})">{1}</text>)svg",
      top + height / 2, htmlEscape(yTitle));
  return svg + "</svg>";
}

std::string htmlPage(const std::string& title, const std::string& body) {
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{0}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; max-width: 1100px; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 8px 0; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; font-size: 13px; text-align: left; }}
td.n {{ text-align: right; }}
.ok {{ color: #2a7d2a; font-weight: bold; }} .bad {{ color: #b22; font-weight: bold; }}
svg text {{ font-family: sans-serif; }}
svg .label {{ font-size: 13px; fill: #222; }} svg .value {{ font-size: 12px; fill: #444; }}
svg .tick {{ font-size: 11px; fill: #666; }} svg .axis {{ font-size: 12px; fill: #333; }}
svg .grid {{ stroke: #e3e3e3; stroke-width: 1; }}
</style></head>
<body><h1>{0}</h1>
{1}
</body></html>
)",
                     htmlEscape(title), body);
}

}  // namespace pgmorph
