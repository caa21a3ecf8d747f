// Compiles the host-free core (engines/unreal/core/src) into this module: Unreal Build Tool only
// compiles files under the module folder, and Build.cs puts the core folder on the include path.
// The core uses no Unreal types; it is built and tested on its own with CMake (see README.md).
#include "CoreMinimal.h"

THIRD_PARTY_INCLUDES_START
#include "src/assembler.cpp"
#include "src/channels.cpp"
#include "src/livelinkface.cpp"
#include "src/osc.cpp"
#include "src/protocol.cpp"
#include "src/skeleton.cpp"
THIRD_PARTY_INCLUDES_END
