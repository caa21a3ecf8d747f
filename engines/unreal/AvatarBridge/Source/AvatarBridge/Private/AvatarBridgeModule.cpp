// The module has no start-up work: Live Link finds UAvatarBridgeSourceFactory by reflection.
#include "Modules/ModuleManager.h"

IMPLEMENT_MODULE(FDefaultModuleImpl, AvatarBridge)
