// Live Link source: a UDP receive thread feeds the host-free core and pushes its frames with the
// _AnyThread client calls only; no UObject or game-thread state is touched from that thread.
#pragma once

#include "CoreMinimal.h"
#include "HAL/Runnable.h"
#include "ILiveLinkSource.h"

#include <atomic>
#include <vector>

THIRD_PARTY_INCLUDES_START
#include "avatar_bridge/assembler.hpp"
THIRD_PARTY_INCLUDES_END

class FRunnableThread;
class FSocket;
class ILiveLinkClient;

struct FAvatarBridgeConnection
{
	FString BindAddress = TEXT("0.0.0.0");
	int32 Port = 9100;
	// Live Link subject name; empty = use the subject names the bridge sends.
	FString Subject;

	FString ToConnectionString() const;
	static FAvatarBridgeConnection FromConnectionString(const FString& ConnectionString);
};

class FAvatarBridgeSource : public ILiveLinkSource, public FRunnable
{
public:
	explicit FAvatarBridgeSource(const FAvatarBridgeConnection& InConnection);
	virtual ~FAvatarBridgeSource() override;

	// ILiveLinkSource (game thread)
	virtual void ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid) override;
	virtual bool IsSourceStillValid() const override;
	virtual bool RequestSourceShutdown() override;
	virtual FText GetSourceType() const override;
	virtual FText GetSourceMachineName() const override;
	virtual FText GetSourceStatus() const override;

	// FRunnable (receive thread)
	virtual uint32 Run() override;
	virtual void Stop() override;

private:
	void HandleFrame(const avatar_bridge::AssembledFrame& Frame);
	FName CurveSubjectFor(const std::string& BridgeSubject) const;
	void ForgetSubject(const std::string& BridgeSubject);
	void PushStaticData(const FName& CurveSubject, const FName& BoneSubject, const avatar_bridge::SubjectLayout& Layout, bool bHadBones);

	const FAvatarBridgeConnection Connection;
	ILiveLinkClient* Client = nullptr;
	FGuid SourceGuid;
	FSocket* Socket = nullptr;
	bool bBadAddress = false;  // the bind address or port could not be parsed (set once, in the constructor)
	FRunnableThread* Thread = nullptr;
	std::atomic<bool> bStopping{false};
	std::atomic<bool> bExited{false};  // set by the receive thread as it returns from Run()

	// Receive-thread state.
	TArray<uint8> ReceiveBuffer;
	avatar_bridge::FrameAssembler Assembler;
	std::vector<avatar_bridge::AssembledFrame> Frames;
	TMap<FName, uint64> PushedLayoutVersions;
	TSet<FName> SubjectsWithBones;
	// The one bridge subject each Live Link subject follows: with a fixed Subject, or two bridge subjects
	// that differ only in case (FName ignores it), every other bridge's frames would take turns with its
	// own, each re-pushing static data (which clears the subject's frame buffer).
	// One that has been silent for OwnerTakeoverSeconds gives way (a bridge restarted with a new --subject).
	struct FSubjectOwner
	{
		FString BridgeSubject;  // FString, not std::string: Unreal's containers move elements with memcpy
		double LastFrameSeconds = 0.0;
	};
	TMap<FName, FSubjectOwner> SubjectOwners;
	uint64 LoggedRejections = 0;

	// Read by GetSourceStatus on the game thread.
	std::atomic<uint64> FramesReceived{0};
	std::atomic<uint64> PacketsRejected{0};
	// Mirrors the assembler's count (read only on the receive thread) for the status text.
	std::atomic<uint64> SubjectsEvicted{0};
	// Messages that decode as OSC but carry no usable frame: another protocol (VMC), bad values, or a
	// value count that does not match the subject's names.
	std::atomic<uint64> MessagesUnusable{0};
	// Frames of a bridge subject whose Live Link subject already follows another one.
	std::atomic<uint64> FramesIgnored{0};
};
