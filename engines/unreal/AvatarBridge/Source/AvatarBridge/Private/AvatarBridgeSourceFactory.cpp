#include "AvatarBridgeSourceFactory.h"

#include "AvatarBridgeSource.h"
#include "Widgets/Input/SButton.h"
#include "Widgets/Input/SEditableTextBox.h"
#include "Widgets/Input/SSpinBox.h"
#include "Widgets/Layout/SBox.h"
#include "Widgets/SBoxPanel.h"
#include "Widgets/Text/STextBlock.h"

#define LOCTEXT_NAMESPACE "AvatarBridgeSourceFactory"

FText UAvatarBridgeSourceFactory::GetSourceDisplayName() const
{
	return LOCTEXT("DisplayName", "avatar-bridge");
}

FText UAvatarBridgeSourceFactory::GetSourceTooltip() const
{
	return LOCTEXT("Tooltip", "Speech-driven ARKit curves and face bones from avatar-bridge (run it with --osc HOST:PORT)");
}

TSharedPtr<ILiveLinkSource> UAvatarBridgeSourceFactory::CreateSource(const FString& ConnectionString) const
{
	return MakeShared<FAvatarBridgeSource>(FAvatarBridgeConnection::FromConnectionString(ConnectionString));
}

TSharedPtr<SWidget> UAvatarBridgeSourceFactory::BuildCreationPanel(FOnLiveLinkSourceCreated OnLiveLinkSourceCreated) const
{
	// The panel edits a shared copy of the settings; "Create" hands Live Link the source and the
	// connection string it stores in presets (CreateSource parses it back).
	const TSharedRef<FAvatarBridgeConnection> State = MakeShared<FAvatarBridgeConnection>();

	const auto Row = [](const FText& Label, const TSharedRef<SWidget>& Field)
	{
		return SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().FillWidth(0.35f).VAlign(VAlign_Center).Padding(0.0f, 0.0f, 8.0f, 0.0f)
			[
				SNew(STextBlock).Text(Label)
			]
			+ SHorizontalBox::Slot().FillWidth(0.65f)
			[
				Field
			];
	};

	return SNew(SBox).MinDesiredWidth(320.0f)
	[
		SNew(SVerticalBox)
		+ SVerticalBox::Slot().AutoHeight().Padding(4.0f)
		[
			Row(LOCTEXT("Port", "UDP port"),
				SNew(SSpinBox<int32>)
				.MinValue(1).MaxValue(65535)
				.Value_Lambda([State] { return State->Port; })
				.OnValueChanged_Lambda([State](int32 Value) { State->Port = Value; }))
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(4.0f)
		[
			Row(LOCTEXT("Bind", "Bind address"),
				SNew(SEditableTextBox)
				.Text_Lambda([State] { return FText::FromString(State->BindAddress); })
				.HintText(LOCTEXT("BindHint", "0.0.0.0 = every interface"))
				.OnTextCommitted_Lambda([State](const FText& Text, ETextCommit::Type) { State->BindAddress = Text.ToString(); }))
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(4.0f)
		[
			Row(LOCTEXT("Subject", "Subject"),
				SNew(SEditableTextBox)
				.Text_Lambda([State] { return FText::FromString(State->Subject); })
				.HintText(LOCTEXT("SubjectHint", "empty = the bridge's subject name"))
				.OnTextCommitted_Lambda([State](const FText& Text, ETextCommit::Type) { State->Subject = Text.ToString().TrimStartAndEnd(); }))
		]
		+ SVerticalBox::Slot().AutoHeight().HAlign(HAlign_Right).Padding(4.0f)
		[
			SNew(SButton)
			.Text(LOCTEXT("Create", "Create"))
			.OnClicked_Lambda([State, OnLiveLinkSourceCreated]
			{
				OnLiveLinkSourceCreated.ExecuteIfBound(MakeShared<FAvatarBridgeSource>(*State), State->ToConnectionString());
				return FReply::Handled();
			})
		]
	];
}

#undef LOCTEXT_NAMESPACE
