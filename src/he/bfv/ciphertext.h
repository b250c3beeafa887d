// A BFV ciphertext: the RLWE ciphertext (rlwe/ciphertext.h) in coefficient form. Ciphertexts
// stay in coefficient form between ops (scalar MACs, automorphisms, HPS base extension and
// modulus switching all want it).
#pragma once

#include "he/rlwe/ciphertext.h"

namespace leukocrypt::bfv {

using rlwe::Ciphertext;

}  // namespace leukocrypt::bfv
