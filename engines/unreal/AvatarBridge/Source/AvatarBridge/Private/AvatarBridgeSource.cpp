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
		return;
	}
	Socket = FUdpSocketBuilder(TEXT("AvatarBridgeOsc"))
		.AsNonBlocking()
		.AsReusable()
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
	Stop();
	// Join before agreeing: the client may remove this source's subjects as soon as this returns,
	// and the receive thread must not push a frame after that (it wakes at least every 100 ms).
	if (Thread != nullptr)
	{
		Thread->WaitForCompletion();
		delete Thread;
		Thread = nullptr;
	}
	return true;
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
	if (Socket == nullptr)
	{
		return LOCTEXT("StatusNoSocket", "Cannot bind UDP port");
	}
	const uint64 Received = FramesReceived.load();
	const uint64 Rejected = PacketsRejected.load();
	if (Received == 0 && Rejected > 0)
	{
		// Something is sending, but nothing it sends decodes (another protocol on this port?).
		return FText::Format(LOCTEXT("StatusOnlyBad", "No valid frames ({0} bad packets)"), FText::AsNumber(Rejected));
	}
	if (Received == 0)
	{
		return LOCTEXT("StatusWaiting", "Waiting for the bridge");
	}
	const uint64 Dropped = SubjectFramesDropped.load();
	if (Dropped > 0)
	{
		return FText::Format(
			LOCTEXT("StatusSubjectsFull", "Receiving ({0} frames, {1} bad packets, {2} dropped: more than {3} subjects)"),
			FText::AsNumber(Received), FText::AsNumber(Rejected), FText::AsNumber(Dropped),
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
		uint32 PendingBytes = 0;
		while (!bStopping && Socket->HasPendingData(PendingBytes))
		{
			int32 ReadBytes = 0;
			if (!Socket->Recv(ReceiveBuffer.GetData(), ReceiveBuffer.Num(), ReadBytes) || ReadBytes <= 0)
			{
				break;
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
			SubjectFramesDropped.store(Assembler.stats().dropped_subjects);
			for (const avatar_bridge::AssembledFrame& Frame : Frames)
			{
				HandleFrame(Frame);
			}
		}
	}
	return 0;
}

void FAvatarBridgeSource::HandleFrame(const avatar_bridge::AssembledFrame& Frame)
{
	const avatar_bridge::SubjectLayout* Layout = Assembler.layout(Frame.subject);
	// A later names message in the same bundle replaced the layout: this frame is stale.
	if (Client == nullptr || Layout == nullptr || Layout->version != Frame.layout_version)
	{
		return;
	}
	const FName CurveSubject = Connection.Subject.IsEmpty() ? ToName(Frame.subject) : FName(*Connection.Subject);
	const FName BoneSubject(*(CurveSubject.ToString() + TEXT("_Bones")));

	uint64& PushedVersion = PushedLayoutVersions.FindOrAdd(CurveSubject, 0);
	if (PushedVersion != Frame.layout_version)
	{
		PushStaticData(CurveSubject, BoneSubject, *Layout, SubjectsWithBones.Contains(CurveSubject));
		PushedVersion = Frame.layout_version;
	}

	const double Now = FPlatformTime::Seconds();
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
