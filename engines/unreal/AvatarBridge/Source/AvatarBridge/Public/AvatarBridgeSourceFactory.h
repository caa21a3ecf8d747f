// "avatar-bridge" entry of the Live Link panel's "+ Source" menu.
#pragma once

#include "CoreMinimal.h"
#include "LiveLinkSourceFactory.h"

#include "AvatarBridgeSourceFactory.generated.h"

UCLASS()
class AVATARBRIDGE_API UAvatarBridgeSourceFactory : public ULiveLinkSourceFactory
{
	GENERATED_BODY()

public:
	virtual FText GetSourceDisplayName() const override;
	virtual FText GetSourceTooltip() const override;
	virtual EMenuType GetMenuType() const override { return EMenuType::SubPanel; }
	virtual TSharedPtr<SWidget> BuildCreationPanel(FOnLiveLinkSourceCreated OnLiveLinkSourceCreated) const override;
	// Recreates a source from a preset: "port=9100;bind=0.0.0.0;subject=".
	virtual TSharedPtr<ILiveLinkSource> CreateSource(const FString& ConnectionString) const override;
};
