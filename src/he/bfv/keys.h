// BFV key material: the scheme-neutral RLWE keys (rlwe/keys.h) under their BFV names.
#pragma once

#include "he/rlwe/keys.h"

namespace leukocrypt::bfv {

using rlwe::GaloisKeys;
using rlwe::galois_elt_for_columns;
using rlwe::galois_elt_for_step;
using rlwe::KeySwitchKey;
using rlwe::PublicKey;
using rlwe::RelinKeys;
using rlwe::SecretKey;

}  // namespace leukocrypt::bfv
