// Build rules for the avatar-bridge Live Link source. The parsing and frame assembly live in the
// host-free C++17 core (engines/unreal/core), compiled into this module by AvatarBridgeCore.cpp.
using System.IO;
using UnrealBuildTool;

public class AvatarBridge : ModuleRules
{
	public AvatarBridge(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

		PublicDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine", "LiveLinkInterface" });
		PrivateDependencyModuleNames.AddRange(new string[] { "Sockets", "Networking", "Slate", "SlateCore" });

		string CoreDir = FindCore();
		PrivateIncludePaths.Add(Path.Combine(CoreDir, "include"));
		PrivateIncludePaths.Add(CoreDir);
	}

	// Installed plugin: <Plugin>/Core (install_plugin.sh copies it there); repository checkout: ../core.
	private string FindCore()
	{
		string[] Candidates = {
			Path.Combine(PluginDirectory, "Core"),
			Path.GetFullPath(Path.Combine(PluginDirectory, "..", "core")),
		};
		foreach (string Candidate in Candidates)
		{
			if (File.Exists(Path.Combine(Candidate, "include", "avatar_bridge", "assembler.hpp")))
			{
				return Candidate;
			}
		}
		throw new BuildException("AvatarBridge: the host-free core was not found in " + string.Join(" or ", Candidates) +
			"; install the plugin with engines/unreal/install_plugin.sh");
	}
}
