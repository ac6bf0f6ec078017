#include "sqltext.hpp"

#include <cctype>

#include "error.hpp"

namespace crosswalk::cdc {

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(std::string_view text) {
  bool backslash = text.find('\\') != std::string_view::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    if (c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

namespace {

bool IsIdentStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool IsIdentChar(unsigned char c) { return IsIdentStart(c) || std::isdigit(c) || c == '$'; }

std::string FoldLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Reads one identifier at s[i] (quoted or not); returns false if none.
bool ReadIdentifier(std::string_view s, std::size_t& i, std::string& out) {
  if (i < s.size() && s[i] == '"') {
    out.clear();
    for (++i; i < s.size(); ++i) {
      if (s[i] == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          out += '"';
          ++i;
        } else {
          ++i;
          return !out.empty();
        }
      } else {
        out += s[i];
      }
    }
    return false;  // unterminated
  }
  std::size_t start = i;
  if (i >= s.size() || !IsIdentStart(static_cast<unsigned char>(s[i]))) return false;
  while (i < s.size() && IsIdentChar(static_cast<unsigned char>(s[i]))) ++i;
  out = FoldLower(s.substr(start, i - start));
  return true;
}

}  // namespace

QualifiedName ParseQualifiedName(std::string_view text, const std::string& what) {
  auto bad = [&](const std::string& why) {
    return Error(sqlstate::kConfigFileError, what + ": invalid table name \"" + std::string(text) + "\": " + why,
                 "Write schema.table, quoting parts with double quotes when they hold capitals or punctuation.");
  };
  std::size_t i = 0;
  std::string first, second;
  if (!ReadIdentifier(text, i, first)) throw bad("expected a name");
  if (i == text.size()) return {"public", first};
  if (text[i] != '.') throw bad("unexpected character at offset " + std::to_string(i));
  ++i;
  if (!ReadIdentifier(text, i, second)) throw bad("expected a name after the dot");
  if (i != text.size()) throw bad("unexpected character at offset " + std::to_string(i));
  return {first, second};
}

std::set<std::string> ExpressionIdentifiers(std::string_view s) {
  std::set<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\'') {  // string literal ('' escapes; E'' backslashes)
      bool escapes = i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e');
      for (++i; i < s.size(); ++i) {
        if (escapes && s[i] == '\\') {
          ++i;
        } else if (s[i] == '\'') {
          if (i + 1 < s.size() && s[i + 1] == '\'') {
            ++i;
          } else {
            break;
          }
        }
      }
      ++i;
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      auto end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else if (c == '$') {  // $tag$ ... $tag$, or a parameter $1
      std::size_t close = i + 1;
      while (close < s.size() && IsIdentChar(static_cast<unsigned char>(s[close])) && s[close] != '$') ++close;
      bool parameter = i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]));
      if (parameter || close >= s.size() || s[close] != '$') {
        ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        continue;
      }
      std::string_view tag = s.substr(i, close - i + 1);
      auto end = s.find(tag, close + 1);
      i = end == std::string_view::npos ? s.size() : end + tag.size();
    } else if (c == '"' || IsIdentStart(static_cast<unsigned char>(c))) {
      std::string id;
      std::size_t start = i;
      if (!ReadIdentifier(s, i, id)) {
        ++i;
      } else if (i - start == 1 && (id == "e" || id == "b" || id == "x" || id == "u") && i < s.size() && s[i] == '\'') {
        // E'..', B'..', X'..' prefixes: part of the literal that follows
      } else {
        out.insert(id);
      }
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    } else {
      ++i;
    }
  }
  return out;
}

}  // namespace crosswalk::cdc
