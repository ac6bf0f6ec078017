// The master key: 32 bytes kept outside the database, written as 64 hex
// characters in a file readable only by the server's OS user, or printed by a
// command. Everything else is derived from it with HKDF under fixed labels,
// so every server given the same master key derives the same keys.
#pragma once

#include <string>
#include <string_view>

#include "bytes.hpp"

namespace crosswalk {

inline constexpr std::size_t kMasterKeySize = 32;

// Parses exactly 64 hex characters, optionally followed by one "\n" or
// "\r\n". `source` names where the text came from, for the error (F0000).
SecretBytes ParseMasterKeyHex(std::string_view text, const std::string& source);

// Reads a master key file. Refuses (F0000) a file that is not a regular
// file, is not owned by this process's user, or that group or others may
// read or write; a missing or unreadable file is 58P01.
SecretBytes LoadMasterKeyFile(const std::string& path);

// Runs command with /bin/sh and parses its standard output; a non-zero exit
// status or bad output is F0000. The command's output is never echoed.
SecretBytes LoadMasterKeyCommand(const std::string& command);

// Keys derived from the master key, one per use, so that no key serves two
// purposes: the key that wraps data keys and the key of match_key().
struct DerivedMasterKeys {
  SecretBytes wrap_key;   // AES-256-GCM key wrapping data keys
  SecretBytes match_key;  // HMAC-SHA-256 key of match_key()
};
DerivedMasterKeys DeriveMasterKeys(const SecretBytes& master_key);

}  // namespace crosswalk
