// presage driver for the keystroke-savings simulator (bench/ksr).
//
//   driver <presage.xml>
//
// Reads one JSON object per line on stdin, {"context": "...", "prefix": "..."}
// (other keys ignored), and writes one JSON line per query on stdout:
//   {"suggestions": ["w1", ...], "us": <microseconds inside Presage::predict()>}
// or {"error": "..."} for a line it cannot serve. The past stream presage sees
// is context + prefix (presage takes the current word's prefix from the end of
// the past stream); the future stream is empty. The number of suggestions is
// the configuration's Presage.Selector.SUGGESTIONS (the simulator asks for its
// largest k once and reads the first k for each k); the first output line, before any query, is
//   {"ready": true, "suggestions": <that value>, "predictors": "<PREDICTORS>"}
// so the caller can check what presage actually loaded.
//
// Build: g++ -O2 -std=c++17 -o driver driver.cpp -lpresage

#include <presage.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

class Callback : public PresageCallback {
 public:
  std::string past;
  std::string get_past_stream() const override { return past; }
  std::string get_future_stream() const override { return std::string(); }
};

void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A minimal reader for a flat JSON object whose values are strings (other
// value types are skipped when simple: numbers, true/false/null).
struct Reader {
  const std::string& s;
  size_t i = 0;
  explicit Reader(const std::string& text) : s(text) {}

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      i++;
      return true;
    }
    return false;
  }
  uint32_t hex4() {
    if (i + 4 > s.size()) throw std::runtime_error("short \\u escape");
    uint32_t v = 0;
    for (int n = 0; n < 4; n++) {
      char c = s[i++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else throw std::runtime_error("bad \\u escape");
    }
    return v;
  }
  std::string str() {
    if (!eat('"')) throw std::runtime_error("expected a string");
    std::string out;
    while (i < s.size()) {
      char c = s[i++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) break;
      char e = s[i++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            i += 2;
            uint32_t lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: throw std::runtime_error("bad escape");
      }
    }
    throw std::runtime_error("unterminated string");
  }
  void skip_value() {
    ws();
    if (i < s.size() && s[i] == '"') {
      str();
      return;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}') i++;
  }
};

void parse_query(const std::string& line, std::string& context, std::string& prefix) {
  Reader r(line);
  if (!r.eat('{')) throw std::runtime_error("expected a JSON object");
  if (r.eat('}')) return;
  do {
    std::string key = r.str();
    if (!r.eat(':')) throw std::runtime_error("expected ':'");
    if (key == "context") context = r.str();
    else if (key == "prefix") prefix = r.str();
    else r.skip_value();
  } while (r.eat(','));
  if (!r.eat('}')) throw std::runtime_error("expected '}'");
}

std::string quote(const std::string& v) {
  std::string out = "\"";
  for (unsigned char c : v) {
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: driver <presage.xml>\n";
    return 2;
  }
  std::ios::sync_with_stdio(false);
  Callback cb;
  try {
    Presage presage(&cb, argv[1]);
    std::cout << "{\"ready\":true,\"suggestions\":" << quote(presage.config("Presage.Selector.SUGGESTIONS"))
              << ",\"predictors\":" << quote(presage.config("Presage.PredictorRegistry.PREDICTORS")) << "}\n"
              << std::flush;
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      try {
        std::string context, prefix;
        parse_query(line, context, prefix);
        cb.past = context + prefix;
        auto t0 = std::chrono::steady_clock::now();
        std::vector<std::string> got = presage.predict();
        auto t1 = std::chrono::steady_clock::now();
        double us = std::chrono::duration<double, std::micro>(t1 - t0).count();
        std::string out = "{\"suggestions\":[";
        for (size_t n = 0; n < got.size(); n++) {
          if (n) out += ',';
          out += quote(got[n]);
        }
        char buf[64];
        std::snprintf(buf, sizeof buf, "],\"us\":%.1f}\n", us);
        out += buf;
        std::cout << out << std::flush;
      } catch (const std::exception& e) {  // PresageException is a std::exception
        std::cout << "{\"error\":" << quote(e.what()) << "}\n" << std::flush;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "driver: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
