// Bone transforms from the bridge's joint channels, in Unreal's conventions.
//
// Axes are Unreal's (left-handed, X forward, Y right, Z up) for a head facing +X; rotations are
// parent-local and follow FRotator (pitch + = nose up, yaw + = turn right, roll + = tilt right),
// so the quaternion is exactly FRotator(pitch, yaw, roll).Quaternion(). Rigs whose bone axes differ
// remap in Unreal (Live Link remap asset or AnimBP); the core only fixes signs and units.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace avatar_bridge {

struct Quat {
    double x = 0.0;
    double y = 0.0;
    double z = 0.0;
    double w = 1.0;
};

struct BoneTransform {
    double pitch_deg = 0.0;
    double yaw_deg = 0.0;
    double roll_deg = 0.0;
    Quat rotation;
    std::array<double, 3> translation_cm{0.0, 0.0, 0.0};
};

enum BoneIndex : std::size_t {
    kBoneRoot = 0,
    kBoneHead,
    kBoneJaw,
    kBoneEyeLeft,
    kBoneEyeRight,
    kBoneTongueBase,
    kBoneTongueTip,
    kBoneCount,
};

extern const std::array<std::string_view, kBoneCount> kBoneNames;
extern const std::array<int, kBoneCount> kBoneParents;  // -1 = root

// Scale of the normalised tongue channels (-1..1) into rotations and a forward slide.
constexpr double kTongueBodyMaxDeg = 20.0;
constexpr double kTongueTipMaxDeg = 30.0;
constexpr double kTongueFrontMaxCm = 1.0;

// Same arithmetic as Unreal's FRotator::Quaternion() (degrees in, unit quaternion out).
Quat rotator_to_quat(double pitch_deg, double yaw_deg, double roll_deg);

// Joint values in schema order (kJointNames); a missing channel is passed as 0.
std::array<BoneTransform, kBoneCount> bones_from_joints(const std::array<float, 12>& joints);

}  // namespace avatar_bridge
