#include "AvatarBridgeSource.h"

#include "Common/UdpSocketBuilder.h"
#include "HAL/RunnableThread.h"
#include "ILiveLinkClient.h"
#include "Interfaces/IPv4/IPv4Address.h"
#include "Interfaces/IPv4/IPv4Endpoint.h"
#include "LiveLinkTypes.h"
#include "Roles/LiveLinkAnimationRole.h"
#include "Roles/LiveLinkAnimationTypes.h"
#include "Roles/LiveLinkBasicRole.h"
#include "Sockets.h"
#include "SocketSubsystem.h"

#define LOCTEXT_NAMESPACE "AvatarBridgeSource"

DEFINE_LOG_CATEGORY_STATIC(LogAvatarBridge, Log, All);

namespace
{
	// Room for the largest UDP datagram, so nothing the bridge can send is cut short.
	constexpr int32 ReceiveBufferBytes = static_cast<int32>(avatar_bridge::osc::kMaxPacketBytes) + 1;
	constexpr int32 SocketBufferBytes = 2 * 1024 * 1024;
	constexpr double OwnerTakeoverSeconds = 1.0;

	FName ToName(const std::string& Utf8)
	{
		return FName(UTF8_TO_TCHAR(Utf8.c_str()));
	}
}

FString FAvatarBridgeConnection::ToConnectionString() const
{
	return FString::Printf(TEXT("port=%d;bind=%s;subject=%s"), Port, *BindAddress, *Subject);
}

FAvatarBridgeConnection FAvatarBridgeConnection::FromConnectionString(const FString& ConnectionString)
{
	FAvatarBridgeConnection Result;
	TArray<FString> Parts;
	ConnectionString.ParseIntoArray(Parts, TEXT(";"), true);
	for (const FString& Part : Parts)
	{
		FString Key, Value;
		if (!Part.Split(TEXT("="), &Key, &Value))
		{
			continue;
		}
		Key.TrimStartAndEndInline();
		Value.TrimStartAndEndInline();
		if (Key == TEXT("port"))
		{
			Result.Port = FCString::Atoi(*Value);
		}
		else if (Key == TEXT("bind"))
		{
			Result.BindAddress = Value;
		}
		else if (Key == TEXT("subject"))
		{
			Result.Subject = Value;
		}
	}
	return Result;
}

FAvatarBridgeSource::FAvatarBridgeSource(const FAvatarBridgeConnection& InConnection)
	: Connection(InConnection)
{
	FIPv4Address Address;
	if (Connection.Port < 1 || Connection.Port > 65535 || !FIPv4Address::Parse(Connection.BindAddress, Address))
	{
		UE_LOG(LogAvatarBridge, Error, TEXT("avatar-bridge: bad bind address or port %s:%d"), *Connection.BindAddress, Connection.Port);
		bBadAddress = true;
		return;
	}
	// Not AsReusable: a second listener on the same port must fail to bind ("Cannot bind UDP port")
	// rather than share the port and silently receive nothing.
	Socket = FUdpSocketBuilder(TEXT("AvatarBridgeOsc"))
		.AsNonBlocking()
		.BoundToEndpoint(FIPv4Endpoint(Address, static_cast<uint16>(Connection.Port)))
		.WithReceiveBufferSize(SocketBufferBytes)
		.Build();
	if (Socket == nullptr)
	{
		UE_LOG(LogAvatarBridge, Error, TEXT("avatar-bridge: cannot bind UDP %s:%d (port in use?)"), *Connection.BindAddress, Connection.Port);
		return;
	}
	ReceiveBuffer.SetNumUninitialized(ReceiveBufferBytes);
	UE_LOG(LogAvatarBridge, Log, TEXT("avatar-bridge: listening on UDP %s:%d"), *Connection.BindAddress, Connection.Port);
}

FAvatarBridgeSource::~FAvatarBridgeSource()
{
	Stop();
	if (Thread != nullptr)
	{
		Thread->WaitForCompletion();
		delete Thread;
		Thread = nullptr;
	}
	if (Socket != nullptr)
	{
		Socket->Close();
		ISocketSubsystem::Get(PLATFORM_SOCKETSUBSYSTEM)->DestroySocket(Socket);
		Socket = nullptr;
	}
}

void FAvatarBridgeSource::ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid)
{
	Client = InClient;
	SourceGuid = InSourceGuid;
	// The thread starts only once the client is known, so it never sees a null client.
	if (Socket != nullptr && Thread == nullptr)
	{
		Thread = FRunnableThread::Create(this, TEXT("AvatarBridge Receiver"), 128 * 1024, TPri_AboveNormal);
	}
}

bool FAvatarBridgeSource::IsSourceStillValid() const
{
	return Socket != nullptr && Thread != nullptr && !bStopping;
}

bool FAvatarBridgeSource::RequestSourceShutdown()
{
	// Never wait for the receive thread here: Live Link calls this from its tick while holding the lock
	// that the thread's Push*_AnyThread calls take (UE 5.3-5.5), so a join could deadlock the editor.
	// Live Link asks again every tick until this returns true; the thread sees bStopping within 100 ms.
	// A frame it pushes meanwhile is dropped by Live Link, since the source is already pending kill.
	Stop();
	return Thread == nullptr || bExited;
}

void FAvatarBridgeSource::Stop()
{
	bStopping = true;
}

FText FAvatarBridgeSource::GetSourceType() const
{
	return LOCTEXT("SourceType", "avatar-bridge");
}

FText FAvatarBridgeSource::GetSourceMachineName() const
{
	return FText::FromString(FString::Printf(TEXT("%s:%d"), *Connection.BindAddress, Connection.Port));
}

FText FAvatarBridgeSource::GetSourceStatus() const
{
	if (bBadAddress)
	{
		// Not a port problem: a host name (localhost) or an IPv6 address, which this source does not take.
		return LOCTEXT("StatusBadAddress", "Bad bind address or port: use an IPv4 address (0.0.0.0, 127.0.0.1) and a port 1-65535");
	}
	if (Socket == nullptr)
	{
		return LOCTEXT("StatusNoSocket", "Cannot bind UDP port");
	}
	const uint64 Received = FramesReceived.load();
	const uint64 Rejected = PacketsRejected.load();
	const uint64 Unusable = MessagesUnusable.load();
	if (Received == 0 && (Rejected > 0 || Unusable > 0))
	{
		// Something is sending, but nothing it sends decodes (another protocol on this port, e.g. VMC?).
		return FText::Format(LOCTEXT("StatusOnlyBad", "No valid frames ({0} bad packets, {1} messages of another protocol or with bad values)"),
			FText::AsNumber(Rejected), FText::AsNumber(Unusable));
	}
	if (Received == 0)
	{
		return LOCTEXT("StatusWaiting", "Waiting for the bridge");
	}
	const uint64 Evicted = SubjectsEvicted.load();
	const uint64 Ignored = FramesIgnored.load();
	if (Evicted > 0 || Ignored > 0)
	{
		return FText::Format(
			LOCTEXT("StatusReceivingWithNotes", "Receiving ({0} frames, {1} bad packets, {2} frames of other bridges ignored: one bridge per subject name, {3} idle subjects removed: more than {4} at once)"),
			FText::AsNumber(Received), FText::AsNumber(Rejected), FText::AsNumber(Ignored), FText::AsNumber(Evicted),
			FText::AsNumber(static_cast<uint64>(avatar_bridge::kMaxSubjects)));
	}
	return FText::Format(LOCTEXT("StatusReceiving", "Receiving ({0} frames, {1} bad packets)"),
		FText::AsNumber(Received), FText::AsNumber(Rejected));
}

uint32 FAvatarBridgeSource::Run()
{
	const FTimespan WaitTime = FTimespan::FromMilliseconds(100);
	while (!bStopping)
	{
		if (!Socket->Wait(ESocketWaitConditions::WaitForRead, WaitTime))
		{
			continue;
		}
		// Read until the socket has nothing left (Recv fails with EWOULDBLOCK on this non-blocking socket).
		// Not gated on HasPendingData: on Linux it reports the size of the next datagram, 0 for an empty
		// one, which was then never read and blocked every datagram behind it (a busy loop, nothing received).
		int32 ReadBytes = 0;
		while (!bStopping && Socket->Recv(ReceiveBuffer.GetData(), ReceiveBuffer.Num(), ReadBytes))
		{
			if (ReadBytes <= 0)
			{
				continue;  // an empty datagram: read, and nothing in it
			}
			Frames.clear();
			if (!Assembler.feed(ReceiveBuffer.GetData(), static_cast<std::size_t>(ReadBytes), Frames))
			{
				const uint64 Rejected = ++PacketsRejected;
				// Logging every bad packet from a misconfigured sender would flood the log.
				if (Rejected >= LoggedRejections * 10 + 1)
				{
					LoggedRejections = Rejected;
					UE_LOG(LogAvatarBridge, Warning, TEXT("avatar-bridge: rejected %llu packet(s), last: %s"),
						Rejected, UTF8_TO_TCHAR(avatar_bridge::osc::to_string(Assembler.stats().last_parse_error)));
				}
			}
			const avatar_bridge::AssemblerStats& Stats = Assembler.stats();
			SubjectsEvicted.store(Stats.evicted_subjects);
			MessagesUnusable.store(Stats.ignored_messages + Stats.rejected_messages + Stats.count_mismatches);
			for (const std::string& Gone : Assembler.take_evicted())
			{
				ForgetSubject(Gone);
			}
			for (const avatar_bridge::AssembledFrame& Frame : Frames)
			{
				HandleFrame(Frame);
			}
		}
	}
	bExited = true;  // RequestSourceShutdown agrees from now on; the destructor's join then returns at once
	return 0;
}

FName FAvatarBridgeSource::CurveSubjectFor(const std::string& BridgeSubject) const
{
	return Connection.Subject.IsEmpty() ? ToName(BridgeSubject) : FName(*Connection.Subject);
}

void FAvatarBridgeSource::ForgetSubject(const std::string& BridgeSubject)
{
	// The assembler made room for a newer subject: its Live Link subjects go too, and come back with
	// fresh static data if it speaks again. With a fixed Subject every bridge shares one name: keep it,
	// free for the next bridge to follow.
	const FName CurveSubject = CurveSubjectFor(BridgeSubject);
	const FSubjectOwner* Owner = SubjectOwners.Find(CurveSubject);
	if (Owner == nullptr || !Owner->BridgeSubject.Equals(UTF8_TO_TCHAR(BridgeSubject.c_str()), ESearchCase::CaseSensitive))
	{
		return;  // not the bridge subject this Live Link subject follows
	}
	SubjectOwners.Remove(CurveSubject);
	if (Client == nullptr || !Connection.Subject.IsEmpty())
	{
		PushedLayoutVersions.Remove(CurveSubject);  // the next bridge to follow pushes its own layout
		return;
	}
	Client->RemoveSubject_AnyThread({SourceGuid, CurveSubject});
	if (SubjectsWithBones.Remove(CurveSubject) > 0)
	{
		Client->RemoveSubject_AnyThread({SourceGuid, FName(*(CurveSubject.ToString() + TEXT("_Bones")))});
	}
	PushedLayoutVersions.Remove(CurveSubject);
}

void FAvatarBridgeSource::HandleFrame(const avatar_bridge::AssembledFrame& Frame)
{
	const avatar_bridge::SubjectLayout* Layout = Assembler.layout(Frame.subject);
	// A later names message in the same bundle replaced the layout: this frame is stale.
	if (Client == nullptr || Layout == nullptr || Layout->version != Frame.layout_version)
	{
		return;
	}
	const FName CurveSubject = CurveSubjectFor(Frame.subject);
	const double Now = FPlatformTime::Seconds();
	const FString BridgeSubject(UTF8_TO_TCHAR(Frame.subject.c_str()));
	FSubjectOwner* Owner = SubjectOwners.Find(CurveSubject);
	if (Owner == nullptr)
	{
		SubjectOwners.Add(CurveSubject, FSubjectOwner{BridgeSubject, Now});
	}
	else if (!Owner->BridgeSubject.Equals(BridgeSubject, ESearchCase::CaseSensitive))
	{
		if (Now - Owner->LastFrameSeconds < OwnerTakeoverSeconds)
		{
			FramesIgnored.fetch_add(1);
			return;
		}
		Owner->BridgeSubject = BridgeSubject;  // the one followed fell silent: this bridge takes the name over
		PushedLayoutVersions.Remove(CurveSubject);  // and pushes its own layout
	}
	SubjectOwners.FindChecked(CurveSubject).LastFrameSeconds = Now;
	const FName BoneSubject(*(CurveSubject.ToString() + TEXT("_Bones")));

	uint64& PushedVersion = PushedLayoutVersions.FindOrAdd(CurveSubject, 0);
	if (PushedVersion != Frame.layout_version)
	{
		PushStaticData(CurveSubject, BoneSubject, *Layout, SubjectsWithBones.Contains(CurveSubject));
		PushedVersion = Frame.layout_version;
	}

	FLiveLinkFrameDataStruct CurveFrame(FLiveLinkBaseFrameData::StaticStruct());
	FLiveLinkBaseFrameData& Curves = *CurveFrame.Cast<FLiveLinkBaseFrameData>();
	Curves.WorldTime = FLiveLinkWorldTime(Now);
	Curves.PropertyValues.Append(Frame.curve_values.data(), static_cast<int32>(Frame.curve_values.size()));
	Curves.MetaData.StringMetaData.Add(TEXT("Viseme"), UTF8_TO_TCHAR(Frame.viseme.c_str()));
	Curves.MetaData.StringMetaData.Add(TEXT("Seq"), FString::FromInt(Frame.seq));
	Client->PushSubjectFrameData_AnyThread({SourceGuid, CurveSubject}, MoveTemp(CurveFrame));
	FramesReceived.fetch_add(1);

	if (!Frame.has_bones)
	{
		return;
	}
	FLiveLinkFrameDataStruct BoneFrame(FLiveLinkAnimationFrameData::StaticStruct());
	FLiveLinkAnimationFrameData& Bones = *BoneFrame.Cast<FLiveLinkAnimationFrameData>();
	Bones.WorldTime = FLiveLinkWorldTime(Now);
	Bones.Transforms.Reserve(static_cast<int32>(avatar_bridge::kBoneCount));
	for (const avatar_bridge::BoneTransform& Bone : Frame.bones)
	{
		const FQuat Rotation(Bone.rotation.x, Bone.rotation.y, Bone.rotation.z, Bone.rotation.w);
		const FVector Translation(Bone.translation_cm[0], Bone.translation_cm[1], Bone.translation_cm[2]);
		Bones.Transforms.Add(FTransform(Rotation, Translation));
	}
	Client->PushSubjectFrameData_AnyThread({SourceGuid, BoneSubject}, MoveTemp(BoneFrame));
}

void FAvatarBridgeSource::PushStaticData(const FName& CurveSubject, const FName& BoneSubject,
	const avatar_bridge::SubjectLayout& Layout, bool bHadBones)
{
	FLiveLinkStaticDataStruct CurveStatic(FLiveLinkBaseStaticData::StaticStruct());
	FLiveLinkBaseStaticData& CurveData = *CurveStatic.Cast<FLiveLinkBaseStaticData>();
	CurveData.PropertyNames.Reserve(static_cast<int32>(Layout.curve_names.size()));
	for (const std::string& Name : Layout.curve_names)
	{
		CurveData.PropertyNames.Add(ToName(Name));
	}
	Client->PushSubjectStaticData_AnyThread({SourceGuid, CurveSubject}, ULiveLinkBasicRole::StaticClass(), MoveTemp(CurveStatic));

	if (!Layout.has_bones)
	{
		if (bHadBones)
		{
			Client->RemoveSubject_AnyThread({SourceGuid, BoneSubject});
			SubjectsWithBones.Remove(CurveSubject);
		}
		return;
	}
	FLiveLinkStaticDataStruct BoneStatic(FLiveLinkSkeletonStaticData::StaticStruct());
	FLiveLinkSkeletonStaticData& Skeleton = *BoneStatic.Cast<FLiveLinkSkeletonStaticData>();
	TArray<FName> BoneNames;
	TArray<int32> BoneParents;
	for (std::size_t Index = 0; Index < avatar_bridge::kBoneCount; ++Index)
	{
		BoneNames.Add(FName(UTF8_TO_TCHAR(std::string(avatar_bridge::kBoneNames[Index]).c_str())));
		BoneParents.Add(avatar_bridge::kBoneParents[Index]);
	}
	Skeleton.SetBoneNames(BoneNames);
	Skeleton.SetBoneParents(BoneParents);
	Client->PushSubjectStaticData_AnyThread({SourceGuid, BoneSubject}, ULiveLinkAnimationRole::StaticClass(), MoveTemp(BoneStatic));
	SubjectsWithBones.Add(CurveSubject);
}

#undef LOCTEXT_NAMESPACE
