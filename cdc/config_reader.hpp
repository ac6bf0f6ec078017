// The strict JSON reading that crosswalk-sync's config parsers share
// (cdc/config.cpp, cdc/event_config.cpp): every error is an Error F0000
// naming the JSON path of the field; unknown keys are errors.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "config.hpp"
#include "error.hpp"

namespace crosswalk::cdc::config_reader {

using nlohmann::json;

[[noreturn]] inline void Fail(const std::string& path, const std::string& why, const std::string& hint = {}) {
  throw Error(sqlstate::kConfigFileError, "config: " + path + ": " + why, hint);
}

inline const char* TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "an unknown type";
  }
}

inline std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// An object in the config at a JSON path: every key must be one we know.
class Object {
 public:
  Object(const json& j, std::string path, std::set<std::string> allowed) : j_(j), path_(std::move(path)) {
    if (!j.is_object())
      Fail(path_.empty() ? "(top level)" : path_, std::string("expected an object, got ") + TypeName(j));
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!allowed.count(it.key())) {
        std::string known;
        for (const auto& k : allowed) known += (known.empty() ? "" : ", ") + k;
        Fail(Join(path_, it.key()), "unknown key", "Known keys here: " + known + ".");
      }
    }
  }
  bool Has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  const json& At(const std::string& key) const { return j_.at(key); }
  std::string PathOf(const std::string& key) const { return Join(path_, key); }
  const std::string& path() const { return path_; }

  std::string String(const std::string& key) const {
    if (!Has(key)) Fail(PathOf(key), "missing (a string is required)");
    return StringValue(At(key), PathOf(key));
  }
  std::optional<std::string> OptionalString(const std::string& key) const {
    if (!Has(key)) return std::nullopt;
    return StringValue(At(key), PathOf(key));
  }
  bool Bool(const std::string& key, bool fallback) const {
    if (!Has(key)) return fallback;
    if (!At(key).is_boolean()) Fail(PathOf(key), std::string("expected a boolean, got ") + TypeName(At(key)));
    return At(key).get<bool>();
  }
  std::optional<double> OptionalNumber(const std::string& key, double min) const {
    if (!Has(key)) return std::nullopt;
    if (!At(key).is_number()) Fail(PathOf(key), std::string("expected a number, got ") + TypeName(At(key)));
    double v = At(key).get<double>();
    if (!(v >= min)) Fail(PathOf(key), "must be at least " + std::to_string(min));
    return v;
  }
  std::optional<int> OptionalInt(const std::string& key, int min, int max) const {
    if (!Has(key)) return std::nullopt;
    const json& v = At(key);
    if (!v.is_number_integer()) Fail(PathOf(key), std::string("expected an integer, got ") + TypeName(v));
    long long n = v.get<long long>();
    if (n < min || n > max) Fail(PathOf(key), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return static_cast<int>(n);
  }

  static std::string StringValue(const json& v, const std::string& path) {
    if (!v.is_string()) Fail(path, std::string("expected a string, got ") + TypeName(v));
    std::string s = v.get<std::string>();
    if (s.empty()) Fail(path, "must not be empty");
    return s;
  }

 private:
  const json& j_;
  std::string path_;
};

// A peer's name and slot (`peers[i].name`, `.slot`), checked the same way
// for every kind of peer; `p.path` is set to `path`.
void ParsePeerName(const Object& o, PeerConfig& p);

}  // namespace crosswalk::cdc::config_reader
